package console

import (
	"bytes"
	"io"
	"net/http"
)

// handlerTransport is an http.RoundTripper that serves each request with
// an http.Handler in process: the console's API calls go through gavel's
// own handler stack (authentication, limits, validation) without a socket.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := &bufferedResponse{header: http.Header{}}
	r = r.Clone(r.Context())
	r.RemoteAddr = "console"
	r.RequestURI = r.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	t.h.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(w.code),
		StatusCode:    w.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Trailer:       w.trailer(),
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// bufferedResponse keeps a handler's response in memory.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
	// sent is the header as it was when the handler wrote the status, so
	// trailers declared later can be told apart.
	sent http.Header
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	w.sent = w.header.Clone()
}

func (w *bufferedResponse) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

// Flush implements http.Flusher; everything is buffered anyway.
func (w *bufferedResponse) Flush() {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
}

// trailer returns the trailers the handler set: keys with the
// http.TrailerPrefix, or declared in the Trailer header.
func (w *bufferedResponse) trailer() http.Header {
	var tr http.Header
	for k, vs := range w.header {
		if name, ok := cutPrefix(k, http.TrailerPrefix); ok {
			if tr == nil {
				tr = http.Header{}
			}
			tr[http.CanonicalHeaderKey(name)] = vs
		}
	}
	for _, declared := range w.sent.Values("Trailer") {
		k := http.CanonicalHeaderKey(declared)
		if vs, ok := w.header[k]; ok {
			if tr == nil {
				tr = http.Header{}
			}
			tr[k] = vs
		}
	}
	return tr
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}
