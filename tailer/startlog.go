package tailer

import (
	"strconv"
)

// logStartPositions says, once per sink at start (Consume, Follow), where it
// resumes and how much it has to catch up on over the files found: an
// operator sees at once whether a restart picked up where it left off.
// It runs before the sinks' readers, from their saved positions.
func (t *Tailer) logStartPositions() {
	files := *t.list.Load()
	for _, r := range t.runners {
		var behind int64
		var behindFiles int
		resumes := ""
		for _, of := range files {
			size, err := of.size()
			if err != nil || of.format.Compressed() {
				continue
			}
			off, line, done := int64(0), 1, false
			if r.fresh && of.startOffset > 0 {
				off, line = of.startOffset, of.startLine
			}
			r.mu.Lock()
			s, ok := r.saved[of.key]
			r.mu.Unlock()
			if ok && of.matches(s) && s.Offset <= size {
				off, line, done = s.Offset, s.Line, s.Done
			}
			if done || off >= size {
				continue
			}
			behind += size - off
			behindFiles++
			if resumes == "" {
				resumes = t.table.pathOf(of) + ":" + strconv.Itoa(line)
			}
		}
		args := []any{"files", len(files), "behind_files", behindFiles, "behind_bytes", behind}
		switch {
		case resumes != "":
			args = append(args, "resumes_at", resumes)
		case len(files) > 0:
			args = append(args, "resumes_at", "caught up")
		}
		r.log.Info("sink starting", args...)
	}
}
