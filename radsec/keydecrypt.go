package radsec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrWrongPassphrase is returned when a passphrase does not decrypt a key.
// A wrong passphrase and a corrupted key cannot be told apart: both fail
// the padding or the parse of what was decrypted.
var ErrWrongPassphrase = errors.New("the passphrase does not decrypt the key (wrong passphrase, or a damaged key)")

// ErrKeyEncrypted is returned when a key is encrypted and no passphrase is
// given.
var ErrKeyEncrypted = errors.New("the key is encrypted and no passphrase is set")

// maxPBKDF2Iterations bounds the work a key file can ask for: OpenSSL
// writes 2048 (1.1) or 2048..100000; a larger count is more likely a
// damaged or hostile file than a key.
const maxPBKDF2Iterations = 10_000_000

var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES128CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// encryptedPrivateKeyInfo is RFC 5208's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// pbes2Params is RFC 8018's PBES2-params.
type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

// pbkdf2Params is RFC 8018's PBKDF2-params (salt as an OCTET STRING; the
// "otherSource" choice is reserved and never written).
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

// DecryptPrivateKeyPEM returns keyPEM with its private key decrypted with
// passphrase, as an unencrypted PEM block ("PRIVATE KEY" for PKCS #8,
// the original type for OpenSSL's legacy "Proc-Type: 4,ENCRYPTED" form).
// Other PEM blocks (certificates in the same file) are dropped. A key that
// is not encrypted is returned as it is; an encrypted one without a
// passphrase gives ErrKeyEncrypted, a wrong passphrase ErrWrongPassphrase.
// Errors never contain the passphrase.
func DecryptPrivateKeyPEM(keyPEM, passphrase []byte) ([]byte, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY":
			if len(passphrase) == 0 {
				return nil, ErrKeyEncrypted
			}
			der, err := DecryptPKCS8(block.Bytes, passphrase)
			if err != nil {
				return nil, err
			}
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
		case block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY"):
			// x509's PEM encryption is deprecated (its format is weak and
			// unauthenticated); reading keys OpenSSL wrote in it is fine,
			// and radrelay never writes one.
			if !x509.IsEncryptedPEMBlock(block) {
				return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}), nil
			}
			if len(passphrase) == 0 {
				return nil, ErrKeyEncrypted
			}
			der, err := x509.DecryptPEMBlock(block, passphrase)
			if err != nil {
				return nil, ErrWrongPassphrase
			}
			if _, err := parseAnyKey(block.Type, der); err != nil {
				return nil, ErrWrongPassphrase
			}
			return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
		}
	}
}

// parseAnyKey parses a decrypted legacy key of PEM type typ, to tell a
// wrong passphrase that happened to leave valid padding from a right one.
func parseAnyKey(typ string, der []byte) (any, error) {
	switch typ {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(der)
	}
	return x509.ParsePKCS8PrivateKey(der)
}

// DecryptPKCS8 decrypts the DER of an EncryptedPrivateKeyInfo encrypted
// with PBES2 (PBKDF2 with HMAC-SHA1 or HMAC-SHA256; AES-128/192/256-CBC),
// which is what `openssl pkcs8 -topk8 -v2 ...` and OpenSSL 1.1+'s
// defaults write, and returns the PKCS #8 PrivateKeyInfo DER, checked to
// parse.
func DecryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("encrypted private key: not a PKCS #8 EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted private key: scheme %s is not supported (only PBES2; re-encrypt with openssl pkcs8 -topk8 -v2 aes-256-cbc)", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, errors.New("encrypted private key: malformed PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("encrypted private key: key derivation %s is not supported (only PBKDF2)", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil || len(rest) != 0 {
		return nil, errors.New("encrypted private key: malformed PBKDF2 parameters")
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > maxPBKDF2Iterations {
		return nil, fmt.Errorf("encrypted private key: PBKDF2 iteration count %d out of range 1..%d", kdf.IterationCount, maxPBKDF2Iterations)
	}
	var prf func() hash.Hash
	switch {
	case kdf.PRF.Algorithm == nil, kdf.PRF.Algorithm.Equal(oidHMACWithSHA1):
		prf = sha1.New
	case kdf.PRF.Algorithm.Equal(oidHMACWithSHA256):
		prf = sha256.New
	default:
		return nil, fmt.Errorf("encrypted private key: PBKDF2 PRF %s is not supported (hmacWithSHA1 or hmacWithSHA256)", kdf.PRF.Algorithm)
	}
	var keyLen int
	switch scheme := params.EncryptionScheme.Algorithm; {
	case scheme.Equal(oidAES128CBC):
		keyLen = 16
	case scheme.Equal(oidAES192CBC):
		keyLen = 24
	case scheme.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, fmt.Errorf("encrypted private key: cipher %s is not supported (AES-128/192/256-CBC; re-encrypt with openssl pkcs8 -topk8 -v2 aes-256-cbc)", scheme)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("encrypted private key: PBKDF2 key length %d does not match the cipher's %d", kdf.KeyLength, keyLen)
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != aes.BlockSize {
		return nil, errors.New("encrypted private key: malformed AES-CBC IV")
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("encrypted private key: the encrypted data is not a whole number of AES blocks")
	}
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, fmt.Errorf("encrypted private key: PBKDF2: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypted private key: %w", err)
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, ok := unpad(plain)
	if !ok {
		return nil, ErrWrongPassphrase
	}
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// unpad removes PKCS #7 padding, checking every padding byte. (Timing does
// not matter: a key file on disk is no padding oracle.)
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	for _, p := range b[len(b)-n:] {
		if int(p) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
