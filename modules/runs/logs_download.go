package runs

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/platform/api"
)

// logsDownloadPage is how many logs one read of the CSV download takes.
const logsDownloadPage = 1000

// downloadLogs is GET /flow_runs/{id}/logs/download: the flow run's logs as
// CSV, oldest first, streamed page by page as Prefect does.
func (h *featureHandlers) downloadLogs(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	run, err := h.repo.flowRun(r.Context(), id)
	if err != nil {
		return notFoundOr(err, flowRunNotFound)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="flow-run-logs.csv"; filename*=UTF-8''`+pyQuote(run.Name+"-logs.csv"))
	w.WriteHeader(http.StatusOK)
	var b strings.Builder
	writeCSVRow(&b, "timestamp", "level", "flow_run_id", "task_run_id", "message")
	for offset := 0; h.logs != nil; offset += logsDownloadPage {
		page, err := h.logs.FlowRunPage(r.Context(), id, logsDownloadPage, offset)
		if err != nil {
			// The status is sent: end the stream short, as a failing
			// StreamingResponse does, and say why in the server log.
			h.log.Error("download flow run logs", zap.Stringer("flow_run_id", id), zap.Error(err))
			return nil
		}
		for _, l := range page {
			writeCSVRow(&b, pyDateTime(l), strconv.Itoa(l.Level), l.FlowRunID.String(), uuidOrEmpty(l), l.Message)
		}
		if _, err := w.Write([]byte(b.String())); err != nil {
			return nil // the client went away
		}
		b.Reset()
		if len(page) < logsDownloadPage {
			return nil
		}
	}
	_, _ = w.Write([]byte(b.String())) // a build without logs: the header only
	return nil
}

// writeCSVRow writes fields as Python's csv.writer does: quoted only when
// they hold a comma, quote or line break; rows end with CRLF.
func writeCSVRow(b *strings.Builder, fields ...string) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
		} else {
			b.WriteString(f)
		}
	}
	b.WriteString("\r\n")
}

// pyDateTime is str() of Python's aware UTC datetime:
// "2026-11-20 10:00:00+00:00", with ".ffffff" when there are microseconds.
func pyDateTime(l logs.Log) string {
	t := l.Timestamp.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02 15:04:05.000000") + "+00:00"
}

func uuidOrEmpty(l logs.Log) string {
	if l.TaskRunID == nil {
		return ""
	}
	return l.TaskRunID.String()
}

// pyQuote is urllib.parse.quote(s, safe=""): every byte but letters,
// digits and "_.-~" percent-encoded.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
