// GeoIP test inputs made at test time: a scratch directory under the build
// tree, files written into it, and .mmdb databases built from record lines by
// write_test_mmdb.pl (Debian's libmaxmind-db-writer-perl).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace torcon::test {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::string(TORCON_GEOIP_TEST_DIR) + "/geoip-XXXXXX";
    std::filesystem::create_directories(TORCON_GEOIP_TEST_DIR);
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

  // Writes `bytes` to NAME in the directory; its path.
  std::string write(std::string_view name, std::string_view bytes) const {
    std::string p = path_ + "/" + std::string(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  // Builds NAME.mmdb from record lines (see write_test_mmdb.pl); its path,
  // or "" when the writer failed (the test then fails saying so).
  std::string mmdb(std::string_view name, std::string_view records) const {
    std::string in = write(std::string(name) + ".records", records);
    std::string out = path_ + "/" + std::string(name) + ".mmdb";
    std::string cmd = "perl '" + std::string(TORCON_GEOIP_WRITER) + "' '" + out + "' < '" + in +
                      "' 2>'" + out + ".log'";
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "write_test_mmdb.pl failed: " << cmd;
      return "";
    }
    return out;
  }

 private:
  std::string path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace torcon::test
