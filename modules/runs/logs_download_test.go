package runs

import "testing"

func TestPyQuoteIsURLLibQuoteWithNoSafeChars(t *testing.T) {
	tests := []struct{ give, want string }{
		{"plain-run_1.csv~", "plain-run_1.csv~"},
		{"my run/ü:x", "my%20run%2F%C3%BC%3Ax"},
	}
	for _, tt := range tests {
		if got := pyQuote(tt.give); got != tt.want {
			t.Errorf("pyQuote(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
