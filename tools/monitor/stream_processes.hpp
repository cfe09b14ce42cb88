// Which local process owns each stream (torcon/local_process.hpp: the
// stream's source address through /proc), looked up once per stream and
// source address and remembered: a lookup scans every process's descriptors,
// too much to repeat for every frame.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace torcon {
class Stream;
}

namespace torcon::monitor {

class StreamProcesses {
 public:
  // "1234 curl" (pid and the executable's name), "(not permitted)" when the
  // socket belongs to a process we may not look into, "" when not found (the
  // application already closed it, or tor did not name a source).
  std::string process(const Stream& stream, std::optional<std::uint64_t> tor_pid);

 private:
  // By stream id: the source address looked up and the answer.
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> known_;
};

}  // namespace torcon::monitor
