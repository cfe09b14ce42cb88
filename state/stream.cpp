#include "torcon/stream.hpp"

namespace torcon {

namespace {

bool ends_with_label(std::string_view host, std::string_view label) {
  if (host.size() <= label.size() + 1) return false;
  const std::string_view tail = host.substr(host.size() - label.size());
  if (host[host.size() - label.size() - 1] != '.') return false;
  for (std::size_t i = 0; i < label.size(); ++i) {
    char c = tail[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != label[i]) return false;
  }
  return true;
}

}  // namespace

bool Stream::may_need_decision() const noexcept {
  // USER and DNS_REQUEST streams wait for a controller; tor's own
  // (DIR_FETCH, DIR_UPLOAD, DIRPORT_TEST, (Tor_internal)) never do.
  if (!snapshot_new_ || is_internal() ||
      (!purpose_.empty() && purpose_ != "USER" && purpose_ != "DNS_REQUEST"))
    return false;
  return state_ == StreamStatus::new_ || state_ == StreamStatus::new_resolve ||
         state_ == StreamStatus::detached;
}

bool Stream::target_is_onion() const noexcept { return ends_with_label(host_, "onion"); }

// "www.example.com.$FP.exit" / "www.example.com.nick.exit": the label
// before ".exit".
std::string_view Stream::target_exit() const noexcept {
  if (!ends_with_label(host_, "exit")) return {};
  const std::string_view rest = std::string_view(host_).substr(0, host_.size() - 5);
  const std::size_t dot = rest.rfind('.');
  return dot == std::string_view::npos ? rest : rest.substr(dot + 1);
}

}  // namespace torcon
