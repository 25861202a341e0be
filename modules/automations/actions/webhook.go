package actions

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/prefect-server/prefect-server/platform/jinja"
)

// webhook is Prefect's Webhook block (prefect.blocks.webhook).
type webhook struct {
	Method           string            `json:"method"`
	URL              string            `json:"url"`
	Headers          map[string]string `json:"headers"`
	AllowPrivateURLs *bool             `json:"allow_private_urls"`
	Verify           *bool             `json:"verify"`
}

// webhookTimeout is httpx's default timeout, which Prefect's block uses.
const webhookTimeout = 5 * time.Second

// decode reads the block's data with the block's defaults and checks.
func (w *webhook) decode(data json.RawMessage) error {
	if err := json.Unmarshal(data, w); err != nil {
		return fmt.Errorf("ValidationError(%s)", quotePy(err.Error()))
	}
	if w.Method == "" {
		w.Method = http.MethodPost
	}
	switch w.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fmt.Errorf("ValidationError(%s)", quotePy("method: Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'"))
	}
	if w.URL == "" {
		return fmt.Errorf("ValidationError(%s)", quotePy("url: Field required"))
	}
	return nil
}

func (w *webhook) allowPrivate() bool { return w.AllowPrivateURLs == nil || *w.AllowPrivateURLs }
func (w *webhook) verify() bool       { return w.Verify == nil || *w.Verify }

// webhookResponse is what the action keeps of the answer.
type webhookResponse struct {
	status  int
	body    string
	headers map[string]string
}

// call sends the payload as the request's body. When the block refuses
// private URLs, the address is checked at connection time (as Prefect's
// SSRF-protected transport does), so DNS rebinding cannot get around it.
func (w *webhook) call(ctx context.Context, payload string) (*webhookResponse, error) {
	if !w.allowPrivate() {
		if err := restrictedURL(w.URL); err != nil {
			return nil, err
		}
	}
	dialer := &net.Dialer{Timeout: webhookTimeout}
	if !w.allowPrivate() {
		dialer.Control = refusePrivateAddresses
	}
	transport := &http.Transport{DialContext: dialer.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: !w.verify()}} //nolint:gosec // the block's own verify=False
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: webhookTimeout}
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, strings.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("UnsupportedProtocol(%s)", quotePy(err.Error()))
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ConnectError(%s)", quotePy(err.Error()))
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("ReadError(%s)", quotePy(err.Error()))
	}
	headers := map[string]string{}
	for k, v := range res.Header {
		if !shouldRedactHeader(k) {
			headers[strings.ToLower(k)] = strings.Join(v, ", ")
		}
	}
	return &webhookResponse{status: res.StatusCode, body: string(body), headers: headers}, nil
}

// restrictedURL is Prefect's validate_restricted_url before the request.
func restrictedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("ValueError(%s)", quotePy(quotePy(raw)+" is not a valid URL."))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("ValueError(%s)", quotePy(quotePy(raw)+" is not a valid URL.  Only HTTP and HTTPS URLs are allowed."))
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && isPrivateIP(ip) {
		return fmt.Errorf("ValueError(%s)", quotePy(fmt.Sprintf("%s is not a valid URL.  It resolves to the private address %s.", quotePy(raw), ip)))
	}
	return nil
}

// refusePrivateAddresses is a dialer's check of the address it connects to.
func refusePrivateAddresses(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || isPrivateIP(ip) {
		return errors.New("It resolves to the private address " + host + ".")
	}
	return nil
}

// isPrivateIP is Python's ipaddress is_private, closely enough: private,
// loopback, link-local and unspecified addresses.
func isPrivateIP(ip net.IP) bool {
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsInterfaceLocalMulticast()
}

// shouldRedactHeader is Prefect's should_redact_header: sensitive or noisy
// headers are left out of events.
func shouldRedactHeader(key string) bool {
	k := strings.ToLower(key)
	switch k {
	case "authorization", "traceparent", "via":
		return true
	}
	for _, p := range []string{"x-forwarded", "x-b3", "x-cloud-trace", "x-envoy", "x-prefect"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// renderTemplate renders a user template; its error reads as the Python
// exception Prefect would name.
func renderTemplate(template string, vars map[string]any) (string, error) {
	out, err := jinja.Render(template, vars)
	if err != nil {
		return "", fmt.Errorf("TemplateError(%s)", quotePy(err.Error()))
	}
	return out, nil
}
