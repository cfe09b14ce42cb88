// process_from_address(): /proc/net/tcp{,6} for the socket's inode, then
// /proc/<pid>/fd for its owner (include/torcon/local_process.hpp).
#include "torcon/local_process.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>

#include "proc_net_tcp.hpp"
#include "torcon/stream.hpp"

namespace torcon {
namespace {

struct Address16 {
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;
};

bool to_binary(const std::string& ip, Address16& out) {
  if (inet_pton(AF_INET, ip.c_str(), out.bytes.data()) == 1) {
    out.v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), out.bytes.data()) == 1) {
    out.v6 = true;
    return true;
  }
  return false;
}

std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[(unsigned char)c >> 4];
      out += hex[(unsigned char)c & 15];
    }
  }
  if (text.size() > 80) out += "...";
  return "\"" + out + "\"";
}

Error malformed(std::string_view text, const char* why) {
  return Error(Errc::bad_argument, "malformed source address " + shown(text) + ": " + why);
}

std::string with_port(const SourceAddress& a) {
  if (a.internal) return "(Tor_internal)";
  if (a.ip.find(':') != std::string::npos) return "[" + a.ip + "]:" + std::to_string(a.port);
  return a.ip + ":" + std::to_string(a.port);
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool all_digits(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// The candidate sockets: every entry whose local address and port are the
// source address's, connected ones before listening ones (a listener on
// the same address and port would be another program's server).
struct Candidate {
  std::uint64_t inode;
  std::uint32_t uid;
  bool listening;
};

constexpr std::uint8_t tcp_listen = 10;
constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};

// Reads one table; false when it cannot be opened (the caller decides if
// that matters: a kernel without IPv6 has no tcp6).
bool scan_table(const std::string& path, const Address16& want, std::uint16_t port,
                std::vector<Candidate>& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    const auto e = detail::parse_tcp_socket_line(line);
    if (!e || e->local_port != port || e->inode == 0) continue;  // inode 0: TIME_WAIT
    bool same = false;
    if (e->v6 == want.v6) {
      same = std::memcmp(e->local.data(), want.bytes.data(), want.v6 ? 16 : 4) == 0;
    } else if (e->v6 && !want.v6) {  // ::ffff:a.b.c.d, an IPv4 peer of a dual-stack socket
      same = std::memcmp(e->local.data(), v4_mapped_prefix.data(), 12) == 0 &&
             std::memcmp(e->local.data() + 12, want.bytes.data(), 4) == 0;
    }
    if (same) out.push_back({e->inode, e->uid, e->state == tcp_listen});
  }
  return true;
}

std::string read_link(const std::string& path, int& err) {
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) {
      err = errno;
      return {};
    }
    if (std::size_t(n) < buf.size()) {
      buf.resize(std::size_t(n));
      err = 0;
      return buf;
    }
    if (buf.size() >= 65536) {
      err = ENAMETOOLONG;
      return {};
    }
    buf.resize(buf.size() * 2);
  }
}

// Fills executable and command_line; false when the process is gone.
bool describe(const std::string& dir, LocalProcess& p) {
  int err = 0;
  p.executable = read_link(dir + "/exe", err);
  if (err == ENOENT && access(dir.c_str(), F_OK) != 0) return false;
  std::ifstream in(dir + "/cmdline", std::ios::binary);
  if (!in) return access(dir.c_str(), F_OK) == 0;
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    p.command_line.emplace_back(raw, start, end - start);
    start = end + 1;
  }
  return true;
}

Expected<LocalProcess> process_by_pid(std::uint64_t pid, const std::string& proc_root) {
  LocalProcess p;
  p.pid = pid;
  if (!describe(proc_root + "/" + std::to_string(pid), p))
    return Error(Errc::not_found, "tor's process " + std::to_string(pid) + " does not exist");
  return p;
}

struct OwnerScan {
  std::optional<LocalProcess> found;
  unsigned denied = 0;  // processes whose fd directory we may not read
};

// Walks /proc/<pid>/fd of every process for a link to one of the inodes.
Expected<OwnerScan> scan_owners(const std::string& proc_root,
                                const std::vector<Candidate>& candidates) {
  DirPtr procs(opendir(proc_root.c_str()));
  if (!procs) return Error(Errc::io, "cannot read " + proc_root + ": " + std::strerror(errno));
  std::vector<std::string> targets;
  for (const Candidate& c : candidates)
    targets.push_back("socket:[" + std::to_string(c.inode) + "]");
  OwnerScan scan;
  // Candidates come best first: keep scanning until the best one's owner is
  // found, so the answer does not depend on the order of /proc.
  std::size_t best = targets.size();
  std::string link(64, '\0');
  while (const dirent* pe = readdir(procs.get())) {
    if (!all_digits(pe->d_name)) continue;
    const std::string dir = proc_root + "/" + pe->d_name;
    const int dfd = open((dir + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      if (errno == EACCES || errno == EPERM) ++scan.denied;
      continue;  // ENOENT: exited since readdir
    }
    DirPtr fds(fdopendir(dfd));
    if (!fds) {
      close(dfd);
      continue;
    }
    while (const dirent* fe = readdir(fds.get())) {
      if (fe->d_name[0] == '.') continue;
      const ssize_t n = readlinkat(dirfd(fds.get()), fe->d_name, link.data(), link.size());
      if (n <= 0 || std::size_t(n) >= link.size()) continue;  // closed meanwhile, or not a socket
      const std::string_view target(link.data(), std::size_t(n));
      for (std::size_t i = 0; i < best; ++i) {
        if (target != targets[i]) continue;
        LocalProcess p;
        std::from_chars(pe->d_name, pe->d_name + std::strlen(pe->d_name), p.pid);
        p.socket_inode = candidates[i].inode;
        if (!describe(dir, p)) break;  // exited after we saw its descriptor
        scan.found = std::move(p);
        best = i;
        break;
      }
      if (best == 0) return scan;
    }
  }
  return scan;
}

}  // namespace

Expected<SourceAddress> parse_source_address(std::string_view text) {
  SourceAddress out;
  if (text == "(Tor_internal)") {
    out.internal = true;
    return out;
  }
  if (text.empty()) return malformed(text, "empty");
  std::string_view host, port;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return malformed(text, "'[' without ']'");
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return malformed(text, "no ':port' after ']'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos)
      return malformed(text, "brackets around an address that is not IPv6");
  } else {
    // Also "::1:80", IPv6 without brackets: split at the last ':'.
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return malformed(text, "no ':port'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty()) return malformed(text, "empty port");
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || end != port.data() + port.size() || port.front() == '+')
    return malformed(text, "port is not a decimal number");
  if (v == 0 || v > 65535) return malformed(text, "port out of range 1..65535");
  out.ip.assign(host.data(), host.size());
  Address16 bin;
  if (out.ip.find('\0') != std::string::npos || !to_binary(out.ip, bin))
    return malformed(text, "not a numeric IPv4 or IPv6 address");
  out.port = std::uint16_t(v);
  return out;
}

Expected<LocalProcess> process_from_address(const SourceAddress& address,
                                            const LocalProcessOptions& options) {
  if (address.internal) {
    if (!options.tor_pid)
      return Error(Errc::not_found,
                   "stream opened by tor itself ((Tor_internal)), and tor's pid "
                   "is not known");
    return process_by_pid(*options.tor_pid, options.proc_root);
  }
  Address16 want;
  if (address.ip.find('\0') != std::string::npos || !to_binary(address.ip, want))
    return malformed(address.ip, "not a numeric IPv4 or IPv6 address");
  if (address.port == 0) return malformed(with_port(address), "port 0");

  std::vector<Candidate> candidates;
  const bool have_v4 =
      !want.v6 && scan_table(options.proc_root + "/net/tcp", want, address.port, candidates);
  const bool have_v6 = scan_table(options.proc_root + "/net/tcp6", want, address.port, candidates);
  if (!have_v4 && !have_v6)
    return Error(Errc::io, "cannot read " + options.proc_root + "/net/tcp" + (want.v6 ? "6" : "") +
                               " (is the proc filesystem mounted there?)");
  if (candidates.empty())
    return Error(Errc::not_found, "no TCP socket has the local address " + with_port(address));
  std::stable_partition(candidates.begin(), candidates.end(),
                        [](const Candidate& c) { return !c.listening; });

  auto scan = scan_owners(options.proc_root, candidates);
  if (!scan) return scan.error();
  if (scan->found) return std::move(*scan->found);
  if (scan->denied > 0)
    return Error(Errc::not_permitted,
                 "the socket with local address " + with_port(address) + " belongs to uid " +
                     std::to_string(candidates.front().uid) + ", and the descriptors of " +
                     std::to_string(scan->denied) +
                     " processes cannot be read (permission denied)");
  return Error(Errc::not_found, "no process holds the socket with local address " +
                                    with_port(address) + " (closed, or its process exited)");
}

Expected<LocalProcess> process_from_address(std::string_view address,
                                            const LocalProcessOptions& options) {
  auto parsed = parse_source_address(address);
  if (!parsed) return parsed.error();
  return process_from_address(*parsed, options);
}

Expected<LocalProcess> process_of_stream(const Stream& stream, const LocalProcessOptions& options) {
  if (stream.is_internal()) return process_from_address(SourceAddress{{}, 0, true}, options);
  if (stream.source_address().empty())
    return Error(Errc::not_found, "stream " + std::string(stream.id()) +
                                      " has no source address (tor did not send SOURCE_ADDR)");
  SourceAddress a;
  a.ip.assign(stream.source_address());
  a.port = stream.source_port();
  return process_from_address(a, options);
}

}  // namespace torcon
