// WriteQueue: bounded, all-or-nothing appends; partial consumption; iovecs
// stay valid while more is appended (io_uring sends rely on it).
#include "write_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace torcon::detail {
namespace {

std::string gathered(const WriteQueue& q) {
  iovec iov[64];
  int n = q.gather(iov, 64);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

TEST(WriteQueue, AppendsConsumesAcrossChunks) {
  WriteQueue q(1 << 20);
  std::string big(40'000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(q.append({"head:", big}));
  EXPECT_EQ(q.size(), 5 + big.size());
  EXPECT_EQ(gathered(q), "head:" + big);
  q.consume(7);
  EXPECT_EQ(gathered(q), ("head:" + big).substr(7));
  q.consume(q.size());
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(q.append({"again"}));
  EXPECT_EQ(gathered(q), "again");
}

TEST(WriteQueue, BoundIsAllOrNothing) {
  WriteQueue q(100);
  ASSERT_TRUE(q.append({std::string(60, 'a')}));
  Status over = q.append({std::string(30, 'b'), std::string(11, 'c')});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::io);
  EXPECT_NE(over.error().message.find("write queue full"), std::string::npos);
  EXPECT_EQ(q.size(), 60u);                       // nothing of the rejected write was queued
  EXPECT_TRUE(q.append({std::string(40, 'b')}));  // exactly at the limit is fine
  EXPECT_EQ(q.size(), 100u);
}

TEST(WriteQueue, GatheredBytesDoNotMoveWhenAppending) {
  WriteQueue q(64 << 20);
  ASSERT_TRUE(q.append({"first"}));
  iovec before[4];
  ASSERT_EQ(q.gather(before, 4), 1);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.append({std::string(1000, 'z')}));
  iovec after[4];
  ASSERT_GE(q.gather(after, 4), 1);
  EXPECT_EQ(after[0].iov_base, before[0].iov_base);
  EXPECT_EQ(std::string(static_cast<const char*>(after[0].iov_base), 5), "first");
}

}  // namespace
}  // namespace torcon::detail
