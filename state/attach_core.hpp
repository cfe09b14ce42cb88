// StreamAttacher's machinery, without I/O of its own: it hears TorState's
// stream changes, asks the chain of attachers, and writes commands through a
// CommandSink (the Controller in production; tests and the benchmark put the
// protocol core, control/control_protocol.hpp, behind it and look at bytes).
//
// The hot path — a CONTROLLER_WAIT in the read buffer to ATTACHSTREAM queued
// — allocates nothing once warm: the command line is built in a reused
// buffer, the reply callback is a pointer and a slot number (small enough
// for std::function's inline storage), and the slots for commands in flight
// are reused.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "string_key.hpp"
#include "torcon/controller.hpp"
#include "torcon/stream_attacher.hpp"
#include "torcon/tor_state.hpp"

namespace torcon::detail {

// Where the attacher's commands go. A line without CRLF; cb runs once.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  virtual void command(std::string_view line, ReplyCallback cb) = 0;
  // Identifies the connection (for "another attacher of ours is installed").
  virtual const void* connection() const noexcept = 0;
};

class ControllerSink final : public CommandSink {
 public:
  explicit ControllerSink(Controller& c) : c_(c) {}
  void command(std::string_view line, ReplyCallback cb) override {
    c_.command(line, std::move(cb));
  }
  const void* connection() const noexcept override { return &c_; }

 private:
  Controller& c_;
};

class AttachCore : public std::enable_shared_from_this<AttachCore> {
 public:
  AttachCore(TorState& state, CommandSink& sink, AttacherOptions options);
  ~AttachCore();
  AttachCore(const AttachCore&) = delete;
  AttachCore& operator=(const AttachCore&) = delete;

  // Owns the sink (the public StreamAttacher's ControllerSink).
  void own_sink(std::unique_ptr<CommandSink> sink) { owned_sink_ = std::move(sink); }

  StreamAttacher::Id add(AttachFunction decide, AttachReportFunction report = {});
  bool remove(StreamAttacher::Id id);
  void on_report(AttachReportFunction report) { on_report_ = std::move(report); }
  void install(std::function<void(const Status&)> done);
  void uninstall(std::function<void(const Status&)> done);
  // After the controller reconnected: a restarted tor has
  // __LeaveStreamsUnattached off, and streams would bypass us. Sets it
  // again (when installed) and offers the streams waiting for a decision.
  void restore();
  bool installed() const noexcept { return installed_; }

  // PendingAttach / AttachRequest.
  std::uint64_t defer(const Stream& s, std::size_t next);
  bool decide_late(std::string_view stream_id, std::uint64_t token, const AttachDecision& d);
  bool still_owed(std::string_view stream_id, std::uint64_t token) const;
  void abandoned(std::string_view stream_id, std::uint64_t token);

  // Processes that have an attacher installed, by connection.
  static int installed_on(const void* connection);

 private:
  struct Entry {
    StreamAttacher::Id id;
    bool removed;
    std::unique_ptr<AttachFunction> decide;
    std::unique_ptr<AttachReportFunction> report;
  };
  // A deferred offer: which offer of the stream, and where the chain resumes.
  struct Owed {
    std::uint64_t token;
    std::uint32_t offer;
    std::size_t next;
    StreamAttacher::Id decider;
  };
  enum class Sent : std::uint8_t { attach, attach_zero, close };
  // A command in flight (slots reused; `used` false when free).
  struct InFlight {
    bool used = false;
    Sent what = Sent::attach;
    std::uint8_t sid_len = 0, cid_len = 0;
    std::uint32_t offer = 0;
    StreamAttacher::Id decider = 0;
    char sid[16] = {};
    char cid[16] = {};
  };
  // Outlives the core while replies are owed: callbacks hold it, not the core.
  struct Anchor {
    AttachCore* core;
    std::size_t outstanding;
  };

  void on_stream(const Stream& s, StreamChanges what);
  // After TorState applied a snapshot: offers what it shows waiting.
  void on_snapshot(SnapshotOrigin origin);
  // Offers each stream the snapshot shows NEW with no circuit (once per snapshot).
  void offer_snapshot_new();
  // Waiting for an answer from us: CONTROLLER_WAIT, or possibly so per snapshot.
  static bool awaits(const Stream& s) noexcept {
    return s.needs_decision() || s.may_need_decision();
  }
  // Asks the chain from position `from`; carries out the answer.
  void offer(const Stream& s, std::size_t from);
  void carry_out(const Stream& s, const AttachDecision& d, StreamAttacher::Id decider);
  void fallback(const Stream& s, StreamAttacher::Id decider);
  void send(Sent what, std::string_view sid, std::string_view cid, int hop_or_reason,
            std::uint32_t offer, StreamAttacher::Id decider);
  void on_reply(std::uint32_t slot, const Expected<Reply>& r);
  void report(const AttachReport& r, StreamAttacher::Id decider);
  void prune();

  TorState& state_;
  CommandSink* sink_;
  std::unique_ptr<CommandSink> owned_sink_;
  AttacherOptions options_;
  TorState::ListenerId listener_ = 0, snapshot_listener_ = 0;
  // Whether tor held streams for a controller before our SETCONF (the
  // GETCONF of install()/restore(); nullopt while it is unanswered), and
  // whether a snapshot arrived meanwhile: then its NEW streams wait for it.
  std::optional<bool> held_before_us_;
  bool snapshot_unoffered_ = false;
  // Streams waiting when the connection was lost: offered again after a
  // same-tor resync (their answer may not have reached tor).
  std::vector<std::string> reoffer_;
  // Snapshot-NEW streams offered since the last snapshot.
  absl::flat_hash_set<std::string, TextHash, TextEq> snapshot_offered_;
  bool installed_ = false;
  std::vector<Entry> chain_;
  int depth_ = 0;  // chain calls running
  bool dirty_ = false;
  StreamAttacher::Id next_id_ = 1;
  AttachReportFunction on_report_;
  absl::flat_hash_map<std::string, Owed, TextHash, TextEq> owed_;  // by stream ID
  std::uint64_t next_token_ = 1;
  std::vector<InFlight> in_flight_;
  std::vector<std::uint32_t> free_slots_;
  Anchor* anchor_;
  std::string line_;  // the command being written, reused
};

}  // namespace torcon::detail
