package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// historyStage is the per-connection staging table for history rows.
const historyStage = "radrelay_history_stage"

const historyStageDDL = `CREATE TEMP TABLE IF NOT EXISTS ` + historyStage + ` (
	seq integer, event_time timestamptz, fingerprint bytea, received_time timestamptz,
	status_type text, acctuniqueid text, acctsessionid text, username text, realm text,
	nasipaddress text, nasidentifier text, nasportid text, framedipaddress text,
	acctsessiontime bigint, acctinputoctets bigint, acctoutputoctets bigint,
	acctterminatecause text, attributes text, source_file text, source_line integer)`

var historyColumns = []string{"seq", "event_time", "fingerprint", "received_time",
	"status_type", "acctuniqueid", "acctsessionid", "username", "realm",
	"nasipaddress", "nasidentifier", "nasportid", "framedipaddress",
	"acctsessiontime", "acctinputoctets", "acctoutputoctets",
	"acctterminatecause", "attributes", "source_file", "source_line"}

// historyWriter appends records to the history table.
type historyWriter struct {
	table tableName
}

// insert appends accts (fingerprints unique within accts) and returns which
// of them were new: a record already in the history (a replay, or another
// radrelay instance's copy) is not inserted again and not applied again.
func (w *historyWriter) insert(ctx context.Context, tx pgx.Tx, accts []*acct, wantNew bool) ([]bool, error) {
	rows := make([][]any, len(accts))
	for i, a := range accts {
		var received *time.Time
		if a.received != 0 {
			received = epoch(a.received)
		}
		status := a.status.String()
		if a.status == statusOther {
			status = text(a.statusV)
		}
		var line *int32
		if a.rec.Line > 0 {
			n := int32(a.rec.Line)
			line = &n
		}
		nas := a.nas
		rows[i] = []any{int32(i), epoch(a.event), a.fingerprint, received, nullIf(status),
			a.uniqueID, nullIf(a.sessionID), nullIf(a.userName), nullIf(a.realm),
			nas, nullIf(a.nasIdentifier), nullIf(a.nasPortID), a.framedIP,
			a.sessionTime, a.inputOctets, a.outputOctets, nullIf(a.terminateCause),
			attributesJSON(a), nullIf(text(a.rec.File)), line}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{historyStage}, historyColumns, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("staging history: %w", err)
	}
	cols := historyColumns[1:]
	exprs := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "nasipaddress", "framedipaddress":
			exprs[i] = c + "::inet"
		case "attributes":
			exprs[i] = c + "::jsonb"
		default:
			exprs[i] = c
		}
	}
	q := `INSERT INTO ` + w.table.quoted() + ` (` + strings.Join(cols, ", ") + `) SELECT ` +
		strings.Join(exprs, ", ") + ` FROM ` + historyStage + ` ORDER BY seq ON CONFLICT (fingerprint, event_time) DO NOTHING`
	isNew := make([]bool, len(accts))
	if !wantNew {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("appending history: %w", err)
		}
	} else {
		byFP := make(map[string]int, len(accts))
		for i, a := range accts {
			byFP[string(a.fingerprint)] = i
		}
		rs, err := tx.Query(ctx, q+` RETURNING fingerprint`)
		if err != nil {
			return nil, fmt.Errorf("appending history: %w", err)
		}
		var fp []byte
		_, err = pgx.ForEachRow(rs, []any{&fp}, func() error {
			if i, ok := byFP[string(fp)]; ok {
				isNew[i] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("appending history: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `TRUNCATE `+historyStage); err != nil {
		return nil, err
	}
	return isNew, nil
}

// attributesJSON is the record's attributes as a JSON object: name (with
// ":tag" for a tagged attribute) to value, an array of values for an
// attribute that occurs more than once. Values are the text of the detail
// file (quoted strings unescaped), made storable as in text.
func attributesJSON(a *acct) string {
	attrs := a.rec.Attrs
	count := make(map[string]int, len(attrs))
	keys := make([]string, len(attrs))
	for i, at := range attrs {
		k := at.Name
		if at.HasTag {
			k += ":" + strconv.Itoa(int(at.Tag))
		}
		keys[i] = k
		count[k]++
	}
	var b strings.Builder
	b.Grow(64 * len(attrs))
	b.WriteByte('{')
	done := make(map[string]bool, len(attrs))
	first := true
	for i, k := range keys {
		if done[k] {
			continue
		}
		done[k] = true
		if !first {
			b.WriteByte(',')
		}
		first = false
		appendJSONString(&b, text(k))
		b.WriteByte(':')
		if count[k] == 1 {
			appendJSONString(&b, text(attrs[i].Value))
			continue
		}
		b.WriteByte('[')
		n := 0
		for j := i; j < len(keys); j++ {
			if keys[j] != k {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			appendJSONString(&b, text(attrs[j].Value))
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.String()
}

// appendJSONString writes s (valid UTF-8 without NUL, see text) as a JSON string.
func appendJSONString(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	b.WriteByte('"')
}
