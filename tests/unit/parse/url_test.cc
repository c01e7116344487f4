#include "parse/url.h"

#include <gtest/gtest.h>

namespace dedupd::parse {
namespace {

std::string Canon(std::string_view raw) {
  auto u = CanonicalizeUrl(raw);
  return u ? u->url : "<invalid>";
}

TEST(CanonicalizeUrl, LowerCasesSchemeAndHostDropsDefaultPortFragmentAndTracking) {
  EXPECT_EQ(Canon("HTTPS://WWW.SC.GOV.CN:443/10462/a.shtml?utm_source=weibo&utm_medium=share#top"),
            "https://www.sc.gov.cn/10462/a.shtml");
}

TEST(CanonicalizeUrl, KeepsQueryOrderAndPathCase) {
  EXPECT_EQ(Canon("http://a.example/Path/X?b=2&a=1&gclid=zz"), "http://a.example/Path/X?b=2&a=1");
}

TEST(CanonicalizeUrl, KeepsNonDefaultPort) {
  EXPECT_EQ(Canon("http://a.example:8080/x"), "http://a.example:8080/x");
  EXPECT_EQ(Canon("https://a.example:80/x"), "https://a.example:80/x");
}

TEST(CanonicalizeUrl, EmptyPathBecomesSlashAndEscapesUpperCase) {
  EXPECT_EQ(Canon("https://a.example"), "https://a.example/");
  EXPECT_EQ(Canon("https://a.example/%e4%b8%ad?q=%2f"), "https://a.example/%E4%B8%AD?q=%2F");
}

TEST(CanonicalizeUrl, DropsCredentialsAndEmptyQuery) {
  EXPECT_EQ(Canon("https://user:pw@a.example/x?"), "https://a.example/x");
}

TEST(CanonicalizeUrl, RejectsWhatIsNotAnHttpUrl) {
  std::string why;
  EXPECT_FALSE(CanonicalizeUrl("ftp://a.example/x", &why));
  EXPECT_FALSE(CanonicalizeUrl("not a url", &why));
  EXPECT_FALSE(CanonicalizeUrl("https:///nohost", &why));
  EXPECT_FALSE(CanonicalizeUrl("https://a.example:80x/", &why));
}

TEST(RegistrableDomain, UsesThePublicSuffixList) {
  EXPECT_EQ(RegistrableDomain("www.sc.gov.cn"), "sc.gov.cn");
  EXPECT_EQ(RegistrableDomain("tv.cctv.com"), "cctv.com");
  EXPECT_EQ(RegistrableDomain("news.bbc.co.uk"), "bbc.co.uk");
  EXPECT_EQ(RegistrableDomain("127.0.0.1"), "127.0.0.1");
}

}  // namespace
}  // namespace dedupd::parse
