#include "monitor/live_feed.hpp"

#include <charconv>
#include <ctime>

namespace torcon::monitor {

namespace {

std::string clock_text(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::debug: return "DEBUG";
    case Severity::info: return "INFO";
    case Severity::notice: return "NOTICE";
    case Severity::warn: return "WARN";
    case Severity::err: return "ERR";
    case Severity::other: break;
  }
  return "?";
}

}  // namespace

LiveFeed::LiveFeed(std::size_t bandwidth_seconds, std::size_t log_lines)
    : bandwidth_max_(bandwidth_seconds), log_max_(log_lines) {}

void LiveFeed::apply_getinfo(const KeyValues& kv, std::chrono::system_clock::time_point now) {
  if (const std::string* v = kv.find("version")) version_ = *v;
  if (const std::string* v = kv.find("uptime")) {
    std::uint64_t secs = 0;
    if (parse_number(std::string_view(*v), secs))
      started_ = now - std::chrono::seconds(static_cast<std::int64_t>(secs));
  }
  if (const std::string* v = kv.find("status/bootstrap-phase")) {
    // "NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"": the same
    // arguments as the STATUS_CLIENT event's.
    const std::size_t at = v->find("BOOTSTRAP ");
    if (at != std::string::npos) bootstrap_from(std::string_view(*v).substr(at + 10));
  }
  if (const std::string* v = kv.find("bw-event-cache")) {
    // "R,W R,W ...", one pair per second, oldest first. It goes in front of
    // what BW events added meanwhile; a malformed pair ends the cache.
    std::deque<BandwidthSample> cached;
    std::string_view rest(*v);
    while (!rest.empty()) {
      const std::size_t sp = rest.find(' ');
      const std::string_view pair = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (pair.empty()) continue;
      const std::size_t comma = pair.find(',');
      BandwidthSample s;
      if (comma == std::string_view::npos || !parse_number(pair.substr(0, comma), s.read) ||
          !parse_number(pair.substr(comma + 1), s.written))
        break;
      cached.push_back(s);
    }
    for (const BandwidthSample& s : bandwidth_) cached.push_back(s);
    bandwidth_ = std::move(cached);
    while (bandwidth_.size() > bandwidth_max_) bandwidth_.pop_front();
  }
}

void LiveFeed::apply(const Event& event, std::chrono::system_clock::time_point now) {
  if (const BwEvent* bw = event.get<BwEvent>()) {
    bandwidth_.push_back({bw->read, bw->written});
    while (bandwidth_.size() > bandwidth_max_) bandwidth_.pop_front();
  } else if (const StatusEvent* st = event.get<StatusEvent>()) {
    if (event.type == EventType::status_client && st->action == "BOOTSTRAP")
      bootstrap_from(st->arguments);
  } else if (const LogEvent* lg = event.get<LogEvent>()) {
    add_log(severity_name(lg->severity), lg->text(), now);
  }
}

void LiveFeed::note_mapping(const AddressMapping& mapping, AddressMapChange change) {
  if (change == AddressMapChange::removed)
    mapped_.erase(mapping.address);
  else
    mapped_.insert(mapping.address);
}

std::optional<std::chrono::seconds> LiveFeed::uptime(
    std::chrono::system_clock::time_point now) const {
  if (!started_) return std::nullopt;
  const auto up = std::chrono::duration_cast<std::chrono::seconds>(now - *started_);
  return up.count() < 0 ? std::chrono::seconds(0) : up;
}

void LiveFeed::bootstrap_from(std::string_view arguments) {
  Value v;
  int progress = -1;
  if (find_arg(arguments, "PROGRESS", v) && parse_number(v.text, progress) && progress >= 0 &&
      progress <= 100)
    progress_ = progress;
  if (find_arg(arguments, "SUMMARY", v)) {
    std::string scratch;
    summary_ = std::string(v.decoded(scratch));
  }
}

void LiveFeed::add_log(std::string_view severity, std::string_view text,
                       std::chrono::system_clock::time_point now) {
  const std::string time = clock_text(now);
  while (!text.empty()) {  // a data-block message is one line per entry
    const std::size_t lf = text.find('\n');
    const std::string_view line = text.substr(0, lf);
    text = lf == std::string_view::npos ? std::string_view() : text.substr(lf + 1);
    if (line.empty()) continue;
    log_.push_back({time, std::string(severity), std::string(line)});
    while (log_.size() > log_max_) log_.pop_front();
  }
}

}  // namespace torcon::monitor
