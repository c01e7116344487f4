#include "parse/url.h"

#include <libpsl.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace dedupd::parse {
namespace {

constexpr std::array<std::string_view, 14> kTrackingParams = {
    "gclid",  "fbclid", "dclid",  "gbraid", "wbraid", "msclkid", "yclid",
    "mc_cid", "mc_eid", "igshid", "_hsenc", "_hsmi",  "spm",     "mkt_tok"};

bool IsTrackingParam(std::string_view name) {
  // Compared case-insensitively without a lower-cased copy: the names are
  // short ASCII, and a query has several parameters per page.
  auto equal_lower = [](std::string_view a, std::string_view lower) {
    return a.size() == lower.size() &&
           std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  };
  if (name.size() >= 4 && equal_lower(name.substr(0, 4), "utm_")) return true;
  return std::any_of(kTrackingParams.begin(), kTrackingParams.end(),
                     [&](std::string_view p) { return equal_lower(name, p); });
}

void AppendLower(std::string_view s, std::string* out) {
  for (unsigned char c : s) out->push_back(static_cast<char>(std::tolower(c)));
}

// Upper-cases the hex digits of percent-escapes and drops characters that
// cannot be in a URL (spaces, controls) by escaping them. Appends to `out`.
void AppendNormalizedEscapes(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out->push_back('%');
      out->push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 1]))));
      out->push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 2]))));
      i += 2;
    } else if (c <= 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

bool ValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (unsigned char c : host) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':' ||
          c >= 0x80)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<CanonicalUrl> CanonicalizeUrl(std::string_view raw, std::string* why) {
  CanonicalUrl out;
  if (!CanonicalizeUrlInto(raw, &out.url, &out.host, why)) return std::nullopt;
  return out;
}

bool CanonicalizeUrlInto(std::string_view raw, std::string* url, std::string* host,
                         std::string* why) {
  auto fail = [why](const char* reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  // Trim surrounding whitespace.
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.front())))
    raw.remove_prefix(1);
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);

  size_t colon = raw.find("://");
  if (colon == std::string_view::npos) return fail("no scheme (expected http:// or https://)");
  // The scheme in lower case, without a copy: only two are accepted.
  const std::string_view raw_scheme = raw.substr(0, colon);
  auto scheme_is = [&](std::string_view lower) {
    return raw_scheme.size() == lower.size() &&
           std::equal(raw_scheme.begin(), raw_scheme.end(), lower.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  };
  const bool http = scheme_is("http");
  if (!http && !scheme_is("https")) return fail("scheme is not http or https");
  const std::string_view scheme = http ? "http" : "https";
  std::string_view rest = raw.substr(colon + 3);

  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path_query =
      path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);

  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // credentials are not identity
  }
  std::string_view host_part = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 host");
    host_part = authority.substr(0, close + 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else if (size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host_part = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  // Written into the caller's strings, which keep their capacity from the
  // page before (no allocation per page in steady state).
  host->clear();
  AppendLower(host_part, host);
  while (!host->empty() && host->back() == '.') host->pop_back();
  if (!ValidHost(*host)) return fail("missing or invalid host");
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return fail("invalid port");
  }
  if ((http && port == "80") || (!http && port == "443")) port = {};

  std::string_view path = path_query;
  std::string_view query;
  if (size_t q = path_query.find('?'); q != std::string_view::npos) {
    path = path_query.substr(0, q);
    query = path_query.substr(q + 1);
  }

  url->clear();
  url->reserve(raw.size());
  url->append(scheme).append("://").append(*host);
  if (!port.empty()) url->append(":").append(port);
  if (path.empty()) {
    url->push_back('/');
  } else {
    AppendNormalizedEscapes(path, url);
  }

  bool first = true;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    std::string_view name = param.substr(0, param.find('='));
    if (IsTrackingParam(name)) continue;
    url->push_back(first ? '?' : '&');
    first = false;
    AppendNormalizedEscapes(param, url);
  }
  return true;
}

std::string RegistrableDomain(std::string_view host) {
  std::string h(host);
  std::string out;
  AssignRegistrableDomain(h, &out);
  return out;
}

void AssignRegistrableDomain(const std::string& host, std::string* out) {
  if (host.empty() || host.front() == '[' ||
      std::all_of(host.begin(), host.end(),
                  [](unsigned char c) { return std::isdigit(c) || c == '.'; })) {
    out->assign(host);  // an IP address is its own site
    return;
  }
  const psl_ctx_t* psl = psl_builtin();
  const char* domain = psl != nullptr ? psl_registrable_domain(psl, host.c_str()) : nullptr;
  out->assign(domain != nullptr ? std::string_view(domain) : std::string_view(host));
}

}  // namespace dedupd::parse
