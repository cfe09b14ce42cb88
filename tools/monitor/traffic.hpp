// A little traffic through a private network's client, so the monitor has
// circuits, streams and bandwidth to show: a web server on 127.0.0.1 (the
// private exit's policy allows only 127.0.0.0/8), an HTTP GET through the
// client's SocksPort every few seconds, and one long download the server
// trickles (so an open stream is always there to see). Blocking sockets, on
// threads of its own; nothing here touches the monitor's reactor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace torcon::monitor {

class TrafficDriver {
 public:
  TrafficDriver() = default;
  ~TrafficDriver();  // stop()
  TrafficDriver(const TrafficDriver&) = delete;
  TrafficDriver& operator=(const TrafficDriver&) = delete;

  // Starts the web server and the fetches through 127.0.0.1:socks_port; an
  // error message if the server cannot listen.
  std::string start(std::uint16_t socks_port, std::chrono::milliseconds every);
  void stop();

  std::uint16_t http_port() const noexcept { return http_port_; }
  int fetches_completed() const noexcept { return completed_.load(); }
  // The long download is open and has received data.
  bool streaming() const noexcept { return streaming_.load(); }
  // The last fetch error ("" if none).
  std::string last_error() const;

 private:
  void serve();
  void answer(int fd);
  void fetch_loop();
  void download_loop();
  void note_error(std::string e);

  int listen_fd_ = -1;
  std::uint16_t http_port_ = 0, socks_port_ = 0;
  std::chrono::milliseconds every_{3000};
  std::atomic<bool> stop_{false}, streaming_{false};
  std::atomic<int> completed_{0};
  mutable std::mutex mu_;
  std::string last_error_;
  // One thread per connection being answered; `done` is set as it ends, and
  // the server joins finished ones as it accepts new ones.
  struct Answering {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Answering> answering_;  // guarded by mu_
  std::thread server_, fetcher_, downloader_;
};

}  // namespace torcon::monitor
