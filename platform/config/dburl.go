package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// sqlaPattern is the pattern sqlalchemy.engine.url.make_url parses URLs with
// (SQLAlchemy 2.0); like Python's re.match it is anchored only at the start.
var sqlaPattern = regexp.MustCompile(`^(?P<name>[\w+]+)://` +
	`(?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?` +
	`(?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?` +
	`(?:/(?P<database>[^?]*))?` +
	`(?:\?(?P<query>.*))?`)

// sqlaURL is a SQLAlchemy URL split as make_url splits it. Pointers are nil
// for parts that are absent, as opposed to empty.
type sqlaURL struct {
	driver   string
	username *string
	password *string
	host     string
	port     string
	database *string
	query    url.Values
}

func parseSQLAURL(raw string) (sqlaURL, error) {
	m := sqlaPattern.FindStringSubmatchIndex(raw)
	if m == nil {
		return sqlaURL{}, errors.New("not a database URL")
	}
	group := func(name string) *string {
		i := sqlaPattern.SubexpIndex(name)
		if m[2*i] < 0 {
			return nil
		}
		s := raw[m[2*i]:m[2*i+1]]
		return &s
	}
	unquoted := func(name string) *string {
		s := group(name)
		if s == nil {
			return nil
		}
		u := pyUnquote(*s)
		return &u
	}
	u := sqlaURL{
		driver:   *group("name"),
		username: unquoted("username"),
		password: unquoted("password"),
		database: unquoted("database"),
		query:    url.Values{},
	}
	if h := group("ipv4host"); h != nil {
		u.host = *h
	} else if h := group("ipv6host"); h != nil {
		u.host = *h
	}
	if p := group("port"); p != nil {
		u.port = *p
	}
	if q := group("query"); q != nil {
		values, err := url.ParseQuery(*q)
		if err != nil {
			return sqlaURL{}, fmt.Errorf("bad query string: %w", err)
		}
		for k, vs := range values {
			for _, v := range vs {
				if v != "" { // parse_qsl drops blank values
					u.query.Add(k, v)
				}
			}
		}
	}
	return u, nil
}

// pyUnquote is urllib.parse.unquote: %XX escapes decoded, invalid ones kept.
func pyUnquote(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// pyQuote percent-encodes everything but unreserved characters, as
// SQLAlchemy does when it renders user names and passwords into a URL.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pgOptions are Prefect's PostgreSQL connection settings that end up in the
// pgx DSN.
type pgOptions struct {
	connectTimeout   time.Duration
	applicationName  string
	searchPath       string
	noStatementCache bool // statement_cache_size or prepared_statement_cache_size is 0
	tls              bool
	tlsCAFile        string
	tlsCertFile      string
	tlsKeyFile       string
	tlsCheckHostname bool
}

const supportedDatabases = "want sqlite+aiosqlite:///path/to/prefect.db or postgresql+asyncpg://user:password@host:5432/database"

// databaseDSN turns a SQLAlchemy URL into the dialect and the DSN the Go
// driver takes; userHome expands a leading "~" in a SQLite path.
func databaseDSN(raw, userHome string, pg pgOptions) (Dialect, string, error) {
	u, err := parseSQLAURL(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q is %w (%s)", redactSQLAURL(raw), err, supportedDatabases)
	}
	backend, _, _ := strings.Cut(u.driver, "+")
	switch backend {
	case "sqlite":
		dsn, err := sqliteDSN(u, userHome)
		if err != nil {
			return "", "", fmt.Errorf("%q: %w", redactSQLAURL(raw), err)
		}
		return SQLite, dsn, nil
	case "postgresql", "postgres":
		dsn, err := postgresDSN(u, pg)
		if err != nil {
			return "", "", fmt.Errorf("%q: %w", redactSQLAURL(raw), err)
		}
		return Postgres, dsn, nil
	}
	return "", "", fmt.Errorf("unsupported database %q (%s)", u.driver, supportedDatabases)
}

// sqliteDSN returns the database file path, or ":memory:". In-memory forms:
// "sqlite://", "sqlite:///:memory:" and "sqlite:///file::memory:?uri=true",
// with or without "cache=shared" (this server's in-memory database is always
// shared by its connections).
func sqliteDSN(u sqlaURL, userHome string) (string, error) {
	if u.username != nil || u.password != nil || u.host != "" || u.port != "" {
		return "", errors.New("a SQLite URL has no host: use sqlite+aiosqlite:///relative/path.db or sqlite+aiosqlite:////absolute/path.db")
	}
	path := ""
	if u.database != nil {
		path = *u.database
	}
	if after, ok := strings.CutPrefix(path, "file:"); ok {
		path = after
		if u.query.Get("mode") == "memory" {
			return ":memory:", nil
		}
	}
	if path == "" || path == ":memory:" {
		return ":memory:", nil
	}
	return expandUser(path, userHome), nil
}

// sqlalchemyOnly are query parameters SQLAlchemy or asyncpg take that mean
// nothing to pgx (which would send unknown ones to the server as runtime
// parameters, failing the connection).
var sqlalchemyOnly = map[string]bool{
	"async_fallback":                true,
	"command_timeout":               true,
	"connection_class":              true,
	"direct_tls":                    true,
	"gsslib":                        true,
	"max_cacheable_statement_size":  true,
	"max_cached_statement_lifetime": true,
	"prepared_statement_cache_size": true,
	"prepared_statement_name_func":  true,
	"record_class":                  true,
	"server_settings":               true,
	"ssl":                           true,
	"statement_cache_size":          true,
	"timeout":                       true,
}

var sslModes = map[string]string{
	"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
	"verify-ca": "verify-ca", "verify-full": "verify-full",
	"true": "require", "1": "require", "false": "disable", "0": "disable",
}

// postgresDSN builds a postgres:// URL for pgx: asyncpg parameters are
// translated (ssl -> sslmode, timeout -> connect_timeout, a statement cache
// of 0 -> default_query_exec_mode=exec for PgBouncer), SQLAlchemy-only ones
// dropped, the rest kept.
func postgresDSN(u sqlaURL, pg pgOptions) (string, error) {
	out := url.URL{Scheme: "postgres"}
	if u.username != nil || u.password != nil {
		user := ""
		if u.username != nil {
			user = *u.username
		}
		if u.password != nil {
			out.User = url.UserPassword(user, *u.password)
		} else {
			out.User = url.User(user)
		}
	}
	host := u.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.port != "" {
		port, err := strconv.Atoi(u.port)
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("%q is not a valid port", u.port)
		}
		host = net.JoinHostPort(u.host, u.port)
	}
	out.Host = host
	if u.database != nil && *u.database != "" {
		out.Path = "/" + *u.database
	}

	q := url.Values{}
	for k, vs := range u.query {
		if !sqlalchemyOnly[k] {
			q[k] = vs
		}
	}
	setDefault := func(k, v string) {
		if v != "" && q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	if ssl := u.query.Get("ssl"); ssl != "" {
		mode, ok := sslModes[strings.ToLower(ssl)]
		if !ok {
			return "", fmt.Errorf("ssl=%q is not supported (want disable, allow, prefer, require, verify-ca or verify-full)", ssl)
		}
		setDefault("sslmode", mode)
	}
	if t := u.query.Get("timeout"); t != "" {
		secs, err := strconv.ParseFloat(t, 64)
		if err != nil || secs < 0 {
			return "", fmt.Errorf("timeout=%q is not a number of seconds", t)
		}
		setDefault("connect_timeout", strconv.Itoa(int(math.Ceil(secs))))
	}
	if u.query.Get("statement_cache_size") == "0" || u.query.Get("prepared_statement_cache_size") == "0" || pg.noStatementCache {
		setDefault("default_query_exec_mode", "exec")
	}
	if pg.connectTimeout > 0 {
		setDefault("connect_timeout", strconv.Itoa(int(math.Ceil(pg.connectTimeout.Seconds()))))
	}
	setDefault("application_name", pg.applicationName)
	setDefault("search_path", pg.searchPath)
	if pg.tls {
		// Prefect verifies the server certificate (CERT_REQUIRED), and its
		// host name unless check_hostname is off.
		if pg.tlsCheckHostname {
			q.Set("sslmode", "verify-full")
		} else {
			q.Set("sslmode", "verify-ca")
		}
		setDefault("sslrootcert", pg.tlsCAFile)
		if pg.tlsCertFile != "" && pg.tlsKeyFile != "" {
			setDefault("sslcert", pg.tlsCertFile)
			setDefault("sslkey", pg.tlsKeyFile)
		}
	}
	out.RawQuery = q.Encode()
	return out.String(), nil
}

// componentURL builds the URL Prefect builds from the database driver, host,
// port, user, name and password settings when no connection URL is set
// (prefect.settings.models._defaults.default_database_connection_url). The
// second result is the SQLite file when the URL is a SQLite one.
func componentURL(e *env, home string) (raw, sqlitePath string) {
	defaultPath := filepath.Join(home, "prefect.db")
	defaultURL := "sqlite+aiosqlite:///" + defaultPath
	usedDriver, driver, ok := resolve(e.lookup, envDBDriver)
	if !ok {
		return defaultURL, defaultPath
	}
	switch driver {
	case "sqlite+aiosqlite":
		if _, name, ok := resolve(e.lookup, envDBName); ok && name != "" {
			return "sqlite+aiosqlite:///" + name, ""
		}
		return defaultURL, defaultPath
	case "postgresql+asyncpg":
		var missing []string
		part := func(name string) string {
			used, v, ok := resolve(e.lookup, name)
			if !ok {
				missing = append(missing, used)
			}
			return v
		}
		host, user, dbname := part(envDBHost), part(envDBUser), part(envDBName)
		if len(missing) > 0 {
			e.fail(usedDriver, fmt.Errorf("%s needs %s to be set too (or set %s)", driver, strings.Join(missing, ", "), envDBURL))
			return "", ""
		}
		port := e.port(envDBPort, 5432)
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		userinfo := pyQuote(user)
		if _, pw, ok := resolve(e.lookup, envDBPassword); ok {
			userinfo += ":" + pyQuote(pw)
		}
		return fmt.Sprintf("%s://%s@%s:%d/%s", driver, userinfo, host, port, pyQuote(dbname)), ""
	}
	e.fail(usedDriver, fmt.Errorf("%q is not a supported driver (want postgresql+asyncpg or sqlite+aiosqlite)", driver))
	return "", ""
}

// substitutePassword replaces ${PREFECT_SERVER_DATABASE_PASSWORD} (or the
// legacy ${PREFECT_API_DATABASE_PASSWORD}) in a connection URL with the
// password setting, as Prefect does. Unlike Prefect, the password is
// URL-quoted, so that one containing "@", ":" or "/" still works.
func substitutePassword(e *env, raw, used string) string {
	if !strings.Contains(raw, "PREFECT_API_DATABASE_PASSWORD") && !strings.Contains(raw, "PREFECT_SERVER_DATABASE_PASSWORD") {
		return raw
	}
	_, pw, ok := resolve(e.lookup, envDBPassword)
	if !ok {
		e.fail(used, fmt.Errorf("refers to the database password but %s is not set", envDBPassword))
		return raw
	}
	raw = strings.ReplaceAll(raw, "${PREFECT_API_DATABASE_PASSWORD}", pyQuote(pw))
	return strings.ReplaceAll(raw, "${PREFECT_SERVER_DATABASE_PASSWORD}", pyQuote(pw))
}

const redactedMark = "xxxxx"

// redactSQLAURL masks the password of a SQLAlchemy URL.
func redactSQLAURL(raw string) string {
	m := sqlaPattern.FindStringSubmatchIndex(raw)
	i := sqlaPattern.SubexpIndex("password")
	if m == nil || m[2*i] < 0 || m[2*i] == m[2*i+1] {
		return raw
	}
	return raw[:m[2*i]] + redactedMark + raw[m[2*i+1]:]
}

// redactURL masks the password of a URL, including password query
// parameters.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactSQLAURL(raw)
	}
	q := u.Query()
	changed := false
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, redactedMark)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
