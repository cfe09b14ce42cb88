#!/usr/bin/env python3
"""Checks that stem, the reference Python controller library, parses torcon-gen's output.

usage: check_with_stem.py TORCON_GEN_BINARY

The ns/all reply goes through the same steps as stem's Controller.get_network_statuses()
(recv_message -> GETINFO response -> router_status_entry._parse_file), but with validation on.
Events go through recv_message -> stem.response.convert('EVENT', ...) as stem's event loop
does. Any exception, any typed-event mismatch and any log record stem emits while parsing
(it logs unrecognized enum values and malformed lines instead of raising) is a failure.

Prints "STEM OK: <n> routers, <m> events" and exits 0 on success; exits 1 with the reason
otherwise.
"""

import io
import ipaddress
import logging
import os
import re
import subprocess
import sys

DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import stem
    import stem.descriptor.router_status_entry
    import stem.response
    import stem.response.events
    import stem.socket
except ImportError:
    # A pyenv/venv interpreter first on PATH does not see Debian's python3-stem; the
    # system interpreter does.
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(
        DEBIAN_PYTHON
    ):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
    sys.exit("check_with_stem: stem is not installed (apt-get install python3-stem)")

FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")
NICKNAME = re.compile(r"^[A-Za-z0-9]{1,19}$")

EXPECTED_CLASS = {
    "CIRC": stem.response.events.CircuitEvent,
    "CIRC_MINOR": stem.response.events.CircMinorEvent,
    "STREAM": stem.response.events.StreamEvent,
    "BW": stem.response.events.BandwidthEvent,
    "ORCONN": stem.response.events.ORConnEvent,
    "STREAM_BW": stem.response.events.StreamBwEvent,
    "CIRC_BW": stem.response.events.CircuitBandwidthEvent,
    "STATUS_GENERAL": stem.response.events.StatusEvent,
    "STATUS_CLIENT": stem.response.events.StatusEvent,
    "STATUS_SERVER": stem.response.events.StatusEvent,
    "SIGNAL": stem.response.events.SignalEvent,
}
MAIN_TYPES = ("CIRC", "STREAM", "BW", "ORCONN")


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


class StemLogCapture(logging.Handler):
    """Collects everything stem logs; stem reports malformed or unknown content this way."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def check(self, what):
        if self.records:
            shown = "; ".join(r.getMessage()[:300] for r in self.records[:3])
            raise CheckFailed("stem logged %d message(s) while parsing %s: %s"
                              % (len(self.records), what, shown))


def run_generator(binary, *args):
    proc = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False)
    require(proc.returncode == 0, "%s %s exited %d: %s"
            % (binary, " ".join(args), proc.returncode, proc.stderr.decode(errors="replace")))
    return proc.stdout


def is_public(address):
    ip = ipaddress.ip_address(address)
    return ip.is_global or ip in ipaddress.ip_network("2001:db8::/32")


def check_ns_all(binary, routers, seed, log):
    args = ["ns-all", "--seed", str(seed)]
    if routers is not None:
        args += ["--routers", str(routers)]
    raw = run_generator(binary, *args)
    expected = 8000 if routers is None else routers
    where = "ns-all (%d routers, seed %d)" % (expected, seed)

    reply_file = io.BytesIO(raw)
    message = stem.socket.recv_message(reply_file)
    require(reply_file.read() == b"", where + ": bytes left after the GETINFO reply")
    stem.response.convert("GETINFO", message)
    message._assert_matches({"ns/all"})
    content = message.entries["ns/all"]

    entries = list(stem.descriptor.router_status_entry._parse_file(
        io.BytesIO(content), True,
        entry_class=stem.descriptor.router_status_entry.RouterStatusEntryV3))
    require(len(entries) == expected, "%s: stem parsed %d entries" % (where, len(entries)))

    fingerprints = set()
    for e in entries:
        label = "%s: router %s" % (where, e.nickname)
        require(FINGERPRINT.match(e.fingerprint or ""), label + " fingerprint " + str(e.fingerprint))
        require(FINGERPRINT.match(e.digest or ""), label + " digest " + str(e.digest))
        require(NICKNAME.match(e.nickname or ""), label + " nickname")
        require(e.flags and "Running" in e.flags and "Valid" in e.flags, label + " flags")
        require(list(e.flags) == sorted(e.flags), label + " flags not sorted: %s" % e.flags)
        require(is_public(e.address), label + " non-public address " + e.address)
        for address, port, is_ipv6 in e.or_addresses:
            require(is_ipv6 and is_public(address) and 0 < port < 65536,
                    label + " bad or-address %s:%d" % (address, port))
        require(e.version is not None, label + " version")
        require(e.bandwidth is not None and e.bandwidth > 0, label + " bandwidth")
        require(e.exit_policy is not None, label + " exit policy")
        require("Link" in e.protocols and "Relay" in e.protocols, label + " protocols")
        require(("Exit" in e.flags) <= e.exit_policy.is_exiting_allowed(),
                label + " Exit flag but policy rejects everything")
        fingerprints.add(e.fingerprint)
    require(len(fingerprints) == expected, where + ": duplicate fingerprints")
    log.check(where)
    return expected


def check_events(binary, count, seed, log):
    raw = run_generator(binary, "events", "--count", str(count), "--seed", str(seed))
    where = "events (%d, seed %d)" % (count, seed)
    events_file = io.BytesIO(raw)
    seen = {}
    last_circ = last_conn = 0
    parsed = 0
    while events_file.tell() < len(raw):
        message = stem.socket.recv_message(events_file)
        require(message.is_ok() is False and str(message.content()[0][0]) == "650",
                "%s: not an asynchronous reply: %r" % (where, message.raw_content()[:200]))
        stem.response.convert("EVENT", message)
        event_type = message.type
        expected_class = EXPECTED_CLASS.get(event_type)
        require(expected_class is not None, "%s: unexpected event type %s" % (where, event_type))
        require(type(message) is expected_class, "%s: %s parsed as %s"
                % (where, event_type, type(message).__name__))
        seen[event_type] = seen.get(event_type, 0) + 1
        parsed += 1

        if event_type in ("CIRC", "CIRC_MINOR"):
            for fingerprint, nickname in message.path:
                require(FINGERPRINT.match(fingerprint) and NICKNAME.match(nickname or ""),
                        "%s: bad path entry in %s" % (where, message))
            require(message.created is not None, "%s: no TIME_CREATED in %s" % (where, message))
            if event_type == "CIRC" and message.status == "LAUNCHED":
                # tor numbers origin circuits from one counter.
                require(int(message.id) > last_circ, "%s: circuit id went back: %s"
                        % (where, message))
                last_circ = int(message.id)
        elif event_type == "STREAM":
            require(message.target_port is not None, "%s: no target in %s" % (where, message))
            if message.status in ("NEW", "NEWRESOLVE"):
                require(int(message.id) > last_conn, "%s: stream id went back: %s"
                        % (where, message))
                last_conn = int(message.id)
        elif event_type == "ORCONN":
            require(message.endpoint_fingerprint or message.endpoint_address,
                    "%s: ORCONN without endpoint: %s" % (where, message))
            if message.endpoint_address:
                require(is_public(message.endpoint_address), "%s: private address in %s"
                        % (where, message))
            if message.status in ("NEW", "LAUNCHED"):
                # Streams and OR connections share tor's connection counter.
                require(int(message.id) > last_conn, "%s: connection id went back: %s"
                        % (where, message))
                last_conn = int(message.id)
        elif event_type in ("STREAM_BW", "CIRC_BW"):
            require(message.time is not None, "%s: no TIME in %s" % (where, message))

    require(parsed == count, "%s: stem read %d events" % (where, parsed))
    for event_type in MAIN_TYPES:
        require(seen.get(event_type, 0) > 0, "%s: no %s events" % (where, event_type))
    log.check(where)
    return parsed, seen


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    binary = argv[1]

    log = StemLogCapture()
    stem_logger = logging.getLogger("stem")
    stem_logger.addHandler(log)
    stem_logger.setLevel(logging.DEBUG)

    try:
        routers = check_ns_all(binary, 500, 7, log)
        routers += check_ns_all(binary, None, 1, log)  # the default 8000-router network
        events, _ = check_events(binary, 2000, 7, log)
        # A longer run reaches the rare paths: onion services, NEWNYM, build timeouts.
        more, seen = check_events(binary, 30000, 1, log)
        events += more
        for rare in ("CIRC_MINOR", "STREAM_BW", "CIRC_BW"):
            require(seen.get(rare, 0) > 0, "30000 events but no %s" % rare)
    except CheckFailed as failure:
        print("STEM FAILED: %s" % failure)
        return 1
    except Exception as error:  # stem raises ProtocolError, ValueError, ...
        print("STEM FAILED: %s: %s" % (type(error).__name__, error))
        return 1
    print("STEM OK: %d routers, %d events" % (routers, events))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
