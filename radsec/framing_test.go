package radsec

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func packet(code, id byte, n int) []byte {
	p := make([]byte, n)
	p[0], p[1] = code, id
	p[2], p[3] = byte(n>>8), byte(n)
	for i := 20; i < n; i++ {
		p[i] = byte(i)
	}
	return p
}

func TestReadPacket(t *testing.T) {
	two := append(packet(4, 1, 20), packet(5, 2, 38)...)
	tests := []struct {
		name    string
		stream  []byte
		want    [][]byte
		wantErr error
	}{
		{"one minimal packet", packet(4, 7, 20), [][]byte{packet(4, 7, 20)}, io.EOF},
		{"packets back to back", two, [][]byte{packet(4, 1, 20), packet(5, 2, 38)}, io.EOF},
		{"largest packet", packet(4, 9, 4096), [][]byte{packet(4, 9, 4096)}, io.EOF},
		{"empty stream", nil, nil, io.EOF},
		{"end inside the header", []byte{4, 1}, nil, io.ErrUnexpectedEOF},
		{"end inside the body", packet(4, 1, 30)[:25], nil, io.ErrUnexpectedEOF},
		{"length below 20", []byte{4, 1, 0, 19, 0, 0}, nil, ErrFraming},
		{"length above 4096", []byte{4, 1, 0x10, 0x01}, nil, ErrFraming},
		{"length zero", []byte{4, 1, 0, 0}, nil, ErrFraming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.stream)
			buf := make([]byte, MaxPacketLength)
			var got [][]byte
			var err error
			for {
				var p []byte
				if p, err = ReadPacket(r, buf); err != nil {
					break
				}
				got = append(got, bytes.Clone(p))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d packets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Fatalf("packet %d differs", i)
				}
			}
		})
	}
}

func TestReadPacketSmallBuffer(t *testing.T) {
	if _, err := ReadPacket(bytes.NewReader(packet(4, 1, 20)), make([]byte, 100)); err == nil {
		t.Fatal("a buffer below 4096 octets was accepted")
	}
}

func TestCheckPacket(t *testing.T) {
	if err := CheckPacket(packet(4, 1, 44)); err != nil {
		t.Fatal(err)
	}
	bad := packet(4, 1, 44)
	bad[3] = 40
	for _, p := range [][]byte{bad, make([]byte, 19), make([]byte, 4097)} {
		if CheckPacket(p) == nil {
			t.Fatalf("packet of %d octets accepted", len(p))
		}
	}
}

// FuzzReadPacket: whatever the stream holds, ReadPacket returns packets
// whose Length is their size, or an error; it never panics or over-reads.
func FuzzReadPacket(f *testing.F) {
	f.Add(packet(4, 1, 20))
	f.Add(append(packet(4, 1, 20), packet(5, 2, 38)...))
	f.Add([]byte{4, 1, 0, 19})
	f.Add([]byte{4, 1, 0xff, 0xff, 1, 2})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		buf := make([]byte, MaxPacketLength)
		total := 0
		for {
			p, err := ReadPacket(r, buf)
			if err != nil {
				return
			}
			if err := CheckPacket(p); err != nil {
				t.Fatalf("ReadPacket returned a bad packet: %v", err)
			}
			total += len(p)
			if total > len(stream) {
				t.Fatal("read more than the stream holds")
			}
		}
	})
}
