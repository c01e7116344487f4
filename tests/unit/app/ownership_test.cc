// OwnershipIndex: a URL is owned while the partition it was last seen on is
// assigned here (issue #13 item 3).
#include "app/ownership.h"

#include <gtest/gtest.h>

namespace dedupd::app {
namespace {

TEST(OwnershipIndex, OwnedWhileItsPartitionIsAssigned) {
  OwnershipIndex owned;
  owned.Record("https://a.example/x", 3);
  owned.Record("https://a.example/y", 1);
  EXPECT_FALSE(owned.Owns("https://a.example/x"));  // nothing assigned yet
  owned.Assign({3});
  EXPECT_TRUE(owned.Owns("https://a.example/x"));
  EXPECT_FALSE(owned.Owns("https://a.example/y"));  // partition 1 is elsewhere
  EXPECT_FALSE(owned.Owns("https://a.example/z"));  // never seen
  owned.Revoke({3});
  EXPECT_FALSE(owned.Owns("https://a.example/x"));
  owned.Assign({1, 3});
  EXPECT_TRUE(owned.Owns("https://a.example/y"));
  owned.RevokeAll();
  EXPECT_FALSE(owned.Owns("https://a.example/y"));
  EXPECT_EQ(owned.Known(), 2u);
}

}  // namespace
}  // namespace dedupd::app
