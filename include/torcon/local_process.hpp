// Which local process owns a stream: from the stream's SOURCE_ADDR (the
// application's end of its connection to tor's SocksPort, TransPort, ...) to
// the process holding that TCP socket, through Linux's /proc.
//
// The lookup reads /proc/net/tcp and /proc/net/tcp6 (the socket whose local
// address is the source address gives an inode; IPv4 sockets opened through
// an IPv6 socket appear there as ::ffff:a.b.c.d), then /proc/<pid>/fd of
// every process for a link to "socket:[inode]". It sees the network
// namespace and the processes the caller sees, and another user's file
// descriptors only with the privilege to read them (root, CAP_SYS_PTRACE):
// the error then says "not permitted" rather than "not found". A process
// that exits during the scan is skipped; the answer is what /proc said at
// one moment and may be stale by the time it is used.
//
// Blocking file reads, no allocation beyond the result: call it from a
// reactor callback when a stream appears (one /proc scan costs about as much
// as listing every process's descriptors).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torcon/expected.hpp"
#include "torcon/export.hpp"

namespace torcon {

class Stream;

/// A stream's source address as tor writes SOURCE_ADDR: an IPv4 or IPv6
/// address and a port, or "(Tor_internal)" for streams tor opens itself.
struct TORCON_API SourceAddress {
  std::string ip;          ///< "127.0.0.1", "::1" (no brackets); empty when internal
  std::uint16_t port = 0;  ///< 0 when internal
  bool internal = false;   ///< "(Tor_internal)"
};

/// Parses "a.b.c.d:port", "[v6]:port" or "(Tor_internal)". The address must
/// be a numeric IPv4 or IPv6 address (no host names, no zone), the port
/// 1..65535 in decimal. Otherwise Errc::bad_argument, saying what is wrong.
TORCON_API Expected<SourceAddress> parse_source_address(std::string_view text);

/// The process found for a source address.
struct TORCON_API LocalProcess {
  std::uint64_t pid = 0;  ///< process id (in the caller's pid namespace)
  /// The executable (/proc/PID/exe); empty when it cannot be read (another
  /// user's process, a kernel thread).
  std::string executable;
  /// The command line (/proc/PID/cmdline split at its NULs); empty for a
  /// zombie or when it cannot be read.
  std::vector<std::string> command_line;
  /// The socket's inode (0 for "(Tor_internal)").
  std::uint64_t socket_inode = 0;
};

/// Where process_from_address() looks.
struct TORCON_API LocalProcessOptions {
  /// The proc filesystem's mount point (another root serves tests and
  /// containers that mount it elsewhere).
  std::string proc_root = "/proc";
  /// tor's own pid, the answer for "(Tor_internal)" (TorState::tor_pid() has
  /// it from GETINFO process/pid); without it such streams fail with
  /// Errc::not_found.
  std::optional<std::uint64_t> tor_pid;
};

/// The local process owning the TCP connection whose local end is `address`
/// (a SOURCE_ADDR, see parse_source_address()). Errors: Errc::bad_argument
/// (malformed address), Errc::not_found (no such socket, or its process
/// exited, or "(Tor_internal)" without a tor pid), Errc::not_permitted (the
/// socket exists but belongs to a process whose descriptors the caller may
/// not read), Errc::io (the proc filesystem cannot be read at all).
TORCON_API Expected<LocalProcess> process_from_address(std::string_view address,
                                                       const LocalProcessOptions& options = {});

/// process_from_address() for an already split address.
TORCON_API Expected<LocalProcess> process_from_address(const SourceAddress& address,
                                                       const LocalProcessOptions& options = {});

/// process_from_address() for a stream's source_address() and source_port().
TORCON_API Expected<LocalProcess> process_of_stream(const Stream& stream,
                                                    const LocalProcessOptions& options = {});

}  // namespace torcon
