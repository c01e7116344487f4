// URL canonicalisation: the identity of a page (DESIGN.md, Input contract).
//
//   auto u = CanonicalizeUrl("HTTPS://WWW.Example.COM:443/a?utm_source=x&id=3#top");
//   // u->url == "https://www.example.com/a?id=3", u->host == "www.example.com"
//   std::string site = RegistrableDomain(u->host);   // "example.com"
//
// Rules: scheme and host lower case; default port (80 for http, 443 for https)
// dropped; fragment dropped; tracking parameters (utm_*, gclid, fbclid, ...)
// dropped; the remaining query parameters kept in their order; an empty query
// dropped; an empty path becomes "/"; percent-escapes get upper-case hex.
// Only http and https are accepted.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dedupd::parse {

struct CanonicalUrl {
  std::string url;   // the canonical form
  std::string host;  // lower-case host, no port
};

// Returns nullopt, with *why set, when the text is not an http(s) URL.
std::optional<CanonicalUrl> CanonicalizeUrl(std::string_view raw, std::string* why = nullptr);
// The same into the caller's strings, which keep their capacity (the page
// parser reuses them page after page). False, with *why, as above; *url and
// *host are then unspecified.
bool CanonicalizeUrlInto(std::string_view raw, std::string* url, std::string* host,
                         std::string* why = nullptr);

// The registrable domain (public suffix + one label) from the Public Suffix
// List compiled into libpsl; the host itself for IP addresses and hosts that
// are a public suffix.
std::string RegistrableDomain(std::string_view host);
// The same into `*out` (its capacity kept).
void AssignRegistrableDomain(const std::string& host, std::string* out);

}  // namespace dedupd::parse
