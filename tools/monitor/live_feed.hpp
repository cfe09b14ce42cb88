// What the monitor follows beyond TorState: tor's version, bootstrap
// progress, uptime, the per-second traffic and the recent log. Fed with
// GETINFO answers and events (BW, STATUS_CLIENT, NOTICE/WARN/ERR), so it
// works the same on a live Controller and on canned replies in tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "monitor/snapshot.hpp"
#include "torcon/address_map.hpp"
#include "torcon/controller.hpp"
#include "torcon/events.hpp"

namespace torcon::monitor {

class LiveFeed {
 public:
  // The GETINFO keys apply_getinfo() reads.
  static constexpr std::string_view kGetinfoKeys[] = {"version", "uptime", "status/bootstrap-phase",
                                                      "bw-event-cache"};
  // The events apply() reads.
  static constexpr std::string_view kEvents[] = {"BW", "STATUS_CLIENT", "NOTICE", "WARN", "ERR"};

  explicit LiveFeed(std::size_t bandwidth_seconds = 900, std::size_t log_lines = 300);

  // A GETINFO answer with any of kGetinfoKeys (others are ignored). The
  // bandwidth cache goes before samples BW events already added.
  void apply_getinfo(const KeyValues& kv, std::chrono::system_clock::time_point now);
  // One event; types other than kEvents are ignored.
  void apply(const Event& event, std::chrono::system_clock::time_point now);
  // TorState's address-map listener: TorState looks mappings up by address
  // but does not list them, so the feed keeps the addresses it was told of.
  void note_mapping(const AddressMapping& mapping, AddressMapChange change);

  const std::string& version() const noexcept { return version_; }
  int bootstrap_progress() const noexcept { return progress_; }
  const std::string& bootstrap_summary() const noexcept { return summary_; }
  // How long tor has run at `now`, once GETINFO uptime answered.
  std::optional<std::chrono::seconds> uptime(std::chrono::system_clock::time_point now) const;
  const std::deque<BandwidthSample>& bandwidth() const noexcept { return bandwidth_; }
  const std::deque<LogLine>& log() const noexcept { return log_; }
  const std::set<std::string>& mapped_addresses() const noexcept { return mapped_; }

 private:
  void bootstrap_from(std::string_view arguments);
  void add_log(std::string_view severity, std::string_view text,
               std::chrono::system_clock::time_point now);

  std::size_t bandwidth_max_, log_max_;
  std::string version_;
  int progress_ = -1;
  std::string summary_;
  std::optional<std::chrono::system_clock::time_point> started_;
  std::deque<BandwidthSample> bandwidth_;
  std::deque<LogLine> log_;
  std::set<std::string> mapped_;
};

}  // namespace torcon::monitor
