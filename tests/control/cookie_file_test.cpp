// safecookie::read_cookie(): only a regular file (or a link to one) of
// exactly 32 bytes is a cookie; anything else is refused without blocking
// (a FIFO is not waited on) and without reading from it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "safecookie.hpp"

namespace torcon::safecookie {
namespace {

namespace fs = std::filesystem;

class CookieFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/torcon-cookie-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name, std::size_t size) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << std::string(size, 'c');
    return path;
  }
  std::string dir_;
};

TEST_F(CookieFileTest, OnlyARegularFileOfThirtyTwoBytes) {
  const std::string ok = file("cookie", 32);
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string to_ok = dir_ + "/link-to-cookie", to_fifo = dir_ + "/link-to-fifo";
  fs::create_symlink(ok, to_ok);
  fs::create_symlink(fifo, to_fifo);
  const struct {
    std::string path;
    const char* says;  // nullptr: read
  } cases[] = {
      {ok, nullptr},
      {to_ok, nullptr},
      {file("short", 31), "31 bytes, not the 32"},
      {file("long", 33), "33 bytes, not the 32"},
      {file("empty", 0), "0 bytes, not the 32"},
      {fifo, "not a regular file"},
      {to_fifo, "not a regular file"},
      {"/dev/zero", "not a regular file"},
      {"/dev/null", "not a regular file"},
      {dir_, "not a regular file"},
      {dir_ + "/missing", "cannot open cookie file"},
      {"", "no cookie file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const Expected<std::string> got = read_cookie(c.path);
    if (!c.says) {
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(*got, std::string(32, 'c'));
      continue;
    }
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::auth);
    EXPECT_NE(got.error().message.find(c.says), std::string::npos) << got.error().message;
  }
}

}  // namespace
}  // namespace torcon::safecookie
