// The attach hot path allocates nothing: from the bytes of a STREAM ...
// CONTROLLER_WAIT handed to the protocol core to the ATTACHSTREAM written,
// once warm, operator new is never called. Its own binary: it replaces the
// global operator new to count calls.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "state/attach_rig.hpp"
#include "torcon/stream_attacher.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using torcon::AttachDecision;
using torcon::AttachRequest;

struct Case {
  const char* name;
  AttachDecision decision;
  const char* command;  // the start of what must be written
};
// gtest names the case by its name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class AttachAllocations : public ::testing::TestWithParam<Case> {};

TEST_P(AttachAllocations, NoneFromControllerWaitToTheCommand) {
  const Case& c = GetParam();
  torcon::test::AttachRig rig;
  rig.core->add([&](AttachRequest&) { return c.decision; });
  rig.install();
  long worst = 0;
  int worst_at = -1;
  // Enough rounds to cross every growth boundary of the buffers on the way
  // (the reply FIFO, the read buffer, the slots), and again once warm.
  for (int i = 0; i < 300; ++i) {
    const std::string id = std::to_string(1000 + i);
    const std::string wait = "650 STREAM " + id + " CONTROLLER_WAIT 0 192.0.2.7:80\r\n";
    rig.tor("650 STREAM " + id +
            " NEW 0 192.0.2.7:80 SOURCE_ADDR=127.0.0.1:40000 PURPOSE=USER\r\n");
    rig.host.written.clear();  // keeps its capacity
    allocations = 0;
    counting = true;
    rig.proto.feed(wait);
    counting = false;
    ASSERT_TRUE(rig.host.written.starts_with(std::string(c.command) + id)) << rig.host.written;
    if (i >= 50 && allocations > worst) {
      worst = allocations;
      worst_at = i;
    }
    rig.tor("250 OK\r\n650 STREAM " + id + " CLOSED 0 192.0.2.7:80 REASON=DONE\r\n");
  }
  EXPECT_EQ(worst, 0) << "allocations at round " << worst_at;
}

INSTANTIATE_TEST_SUITE_P(
    StreamAttacher, AttachAllocations,
    ::testing::Values(Case{"circuit", AttachDecision::circuit("123456", 2), "ATTACHSTREAM "},
                      Case{"tor_chooses", AttachDecision::tor_chooses(), "ATTACHSTREAM "},
                      Case{"close", AttachDecision::close(), "CLOSESTREAM "}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
