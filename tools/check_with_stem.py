#!/usr/bin/env python3
"""Checks that stem, the reference Python controller library, parses torcon-gen's output.

usage: check_with_stem.py TORCON_GEN_BINARY

The ns/all reply goes through the same steps as stem's Controller.get_network_statuses()
(recv_message -> GETINFO response -> router_status_entry._parse_file), but with validation on.
The microdescriptor consensus goes through recv_message -> GETINFO response ->
NetworkStatusDocumentV3 with validation on, its entries as RouterStatusEntryMicroV3.
Events go through recv_message -> stem.response.convert('EVENT', ...) as stem's event loop
does. Any exception, any typed-event mismatch and any log record stem emits while parsing
(it logs unrecognized enum values and malformed lines instead of raising) is a failure,
except for the values tor added after stem's last release (NEWER_THAN_STEM).

Prints "STEM OK: <n> routers, <m> events" and exits 0 on success; exits 1 with the reason
otherwise.
"""

import base64
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
    import stem.descriptor.networkstatus
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
BASE64_DIGEST = re.compile(r"^[A-Za-z0-9+/]{27}$")
BASE64_SHA256 = re.compile(r"^[A-Za-z0-9+/]{43}$")
CONFLUX_ID = re.compile(r"^[0-9A-F]{32}$")
HS_POW = re.compile(r"^v1,[1-9][0-9]*$")
NO_PUBLICATION_TIME = "2038-01-01 00:00:00"

# Circuit purposes tor sends that stem 1.8's CircPurpose does not list (vanguards-lite
# in tor 0.4.7, conflux in 0.4.8): stem logs them as unrecognized, which is expected.
NEWER_THAN_STEM = ("HS_VANGUARDS", "CONFLUX_LINKED", "CONFLUX_UNLINKED")

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
STREAM_ISOLATION = ("CLIENT_PROTOCOL", "NYM_EPOCH", "SESSION_GROUP", "ISO_FIELDS")


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
        message = record.getMessage()
        if any("unrecognized purpose (%s)" % v in message
               or "unrecognized old_purpose (%s)" % v in message for v in NEWER_THAN_STEM):
            return
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


def getinfo(raw, key, where):
    reply_file = io.BytesIO(raw)
    message = stem.socket.recv_message(reply_file)
    require(reply_file.read() == b"", where + ": bytes left after the GETINFO reply")
    stem.response.convert("GETINFO", message)
    message._assert_matches({key})
    return message.entries[key]


def check_common_entry(e, label):
    """What a router status entry of either flavour must have."""
    require(FINGERPRINT.match(e.fingerprint or ""), label + " fingerprint " + str(e.fingerprint))
    require(NICKNAME.match(e.nickname or ""), label + " nickname")
    require(e.flags and "Running" in e.flags and "Valid" in e.flags, label + " flags")
    require(list(e.flags) == sorted(e.flags), label + " flags not sorted: %s" % e.flags)
    require(is_public(e.address), label + " non-public address " + e.address)
    require(len(e.or_addresses) <= 1, label + " more than one 'a' line")
    for address, port, is_ipv6 in e.or_addresses:
        require(is_ipv6 and is_public(address) and 0 < port < 65536,
                label + " bad or-address %s:%d" % (address, port))
    require(e.bandwidth is not None and e.bandwidth > 0, label + " bandwidth")
    require(str(e.published) == NO_PUBLICATION_TIME, label + " published " + str(e.published))


def check_ns_all(binary, routers, seed, client, log):
    """Returns {fingerprint: base64 digest} of the network."""
    args = ["ns-all", "--seed", str(seed)]
    if routers is not None:
        args += ["--routers", str(routers)]
    if client:
        args.append("--client")
    expected = 8000 if routers is None else routers
    where = "ns-all (%d routers, seed %d%s)" % (expected, seed, ", client" if client else "")
    content = getinfo(run_generator(binary, *args), "ns/all", where)

    entries = list(stem.descriptor.router_status_entry._parse_file(
        io.BytesIO(content), True,
        entry_class=stem.descriptor.router_status_entry.RouterStatusEntryV3))
    require(len(entries) == expected, "%s: stem parsed %d entries" % (where, len(entries)))

    digests = {}
    with_policy = 0
    for e in entries:
        label = "%s: router %s" % (where, e.nickname)
        check_common_entry(e, label)
        require(FINGERPRINT.match(e.digest or ""), label + " digest " + str(e.digest))
        # tor 0.4.9 writes no "v"/"pr" line and no Unmeasured for the control port.
        require(e.version is None and not e.protocols, label + " has a version or protocols")
        require(not e.is_unmeasured, label + " Unmeasured")
        if e.exit_policy is not None:
            with_policy += 1
            require(("Exit" in e.flags) <= e.exit_policy.is_exiting_allowed(),
                    label + " Exit flag but policy rejects everything")
        digests[e.fingerprint] = e.digest
    require(len(digests) == expected, where + ": duplicate fingerprints")
    if client:
        require(with_policy == 0, where + ": a client has no descriptors, so no 'p' lines")
    else:
        require(with_policy >= expected * 98 // 100, where + ": only %d 'p' lines" % with_policy)
    log.check(where)
    return digests


def check_consensus_microdesc(binary, routers, seed, ns_digests, log):
    args = ["consensus-microdesc", "--seed", str(seed)]
    if routers is not None:
        args += ["--routers", str(routers)]
    expected = 8000 if routers is None else routers
    where = "consensus-microdesc (%d routers, seed %d)" % (expected, seed)
    content = getinfo(run_generator(binary, *args),
                      "dir/status-vote/current/consensus-microdesc", where)

    doc = stem.descriptor.networkstatus.NetworkStatusDocumentV3(content, validate=True)
    require(doc.is_consensus and doc.is_microdescriptor, where + ": not a microdesc consensus")
    require(len(doc.routers) == expected, "%s: stem parsed %d entries" % (where, len(doc.routers)))
    authorities = min(expected, 9)
    require(len(doc.directory_authorities) == authorities,
            "%s: %d dir-source entries" % (where, len(doc.directory_authorities)))
    require(authorities - 1 <= len(doc.signatures) <= authorities,
            "%s: %d signatures" % (where, len(doc.signatures)))
    require(doc.bandwidth_weights.get("Wmm") == 10000, where + ": bandwidth-weights")
    require(doc.params.get("cfx_enabled") == 1, where + ": params")

    unmeasured = 0
    for fingerprint, e in doc.routers.items():
        label = "%s: router %s" % (where, e.nickname)
        require(type(e) is stem.descriptor.router_status_entry.RouterStatusEntryMicroV3,
                label + " parsed as " + type(e).__name__)
        check_common_entry(e, label)
        require(BASE64_SHA256.match(e.microdescriptor_digest or ""),
                label + " m line " + str(e.microdescriptor_digest))
        require(e.version is not None, label + " version")
        require("Link" in e.protocols and "Relay" in e.protocols, label + " protocols")
        require(not any(line.startswith("p ") for line in str(e).splitlines()),
                label + " has a 'p' line")
        unmeasured += e.is_unmeasured
        # Same network as ns/all; a tor using this flavour shows the first 20 bytes of the
        # microdescriptor digest where ns/all has the descriptor digest.
        hex_digest = ns_digests.get(fingerprint)
        require(hex_digest is not None, label + " is not in ns/all")
        md_hex = base64.b64decode(e.microdescriptor_digest + "=").hex().upper()
        require(md_hex[:40] == hex_digest, label + " m line does not match the ns/all digest")
    require(unmeasured > 0, where + ": no Unmeasured=1 entry")
    log.check(where)
    return expected


def check_events(binary, count, seed, log):
    raw = run_generator(binary, "events", "--count", str(count), "--seed", str(seed))
    where = "events (%d, seed %d)" % (count, seed)
    events_file = io.BytesIO(raw)
    seen = {}
    features = {}
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
        kw = message.keyword_args

        if event_type in ("CIRC", "CIRC_MINOR"):
            for fingerprint, nickname in message.path:
                require(FINGERPRINT.match(fingerprint) and NICKNAME.match(nickname or ""),
                        "%s: bad path entry in %s" % (where, message))
            require(message.created is not None, "%s: no TIME_CREATED in %s" % (where, message))
            conflux = message.purpose in ("CONFLUX_LINKED", "CONFLUX_UNLINKED")
            require(conflux == ("CONFLUX_ID" in kw), "%s: CONFLUX_ID on a leg only: %s"
                    % (where, message))
            if conflux:
                require(CONFLUX_ID.match(kw["CONFLUX_ID"]), "%s: CONFLUX_ID in %s"
                        % (where, message))
                features["conflux"] = True
            if "CONFLUX_RTT" in kw:
                require(message.purpose == "CONFLUX_LINKED" and kw["CONFLUX_RTT"].isdigit(),
                        "%s: CONFLUX_RTT in %s" % (where, message))
                features["conflux_rtt"] = True
            if "HS_POW" in kw:
                require(message.purpose.startswith("HS_CLIENT") and HS_POW.match(kw["HS_POW"]),
                        "%s: HS_POW in %s" % (where, message))
                features["hs_pow"] = True
            if message.purpose == "HS_VANGUARDS":
                features["vanguards"] = True
            if event_type == "CIRC" and message.status == "LAUNCHED":
                # tor numbers origin circuits from one counter.
                require(int(message.id) > last_circ, "%s: circuit id went back: %s"
                        % (where, message))
                last_circ = int(message.id)
        elif event_type == "STREAM":
            require(message.target_port is not None, "%s: no target in %s" % (where, message))
            for key in STREAM_ISOLATION:
                require(key in kw, "%s: no %s in %s" % (where, key, message))
            require(kw["CLIENT_PROTOCOL"] in ("SOCKS4", "SOCKS5", "HTTPCONNECT", "UNKNOWN"),
                    "%s: CLIENT_PROTOCOL in %s" % (where, message))
            require(("SOCKS_USERNAME" in kw) == ("SOCKS_PASSWORD" in kw),
                    "%s: SOCKS credentials come in pairs: %s" % (where, message))
            if "SOCKS_USERNAME" in kw:
                features["socks_auth"] = True
            if message.purpose == "DIR_FETCH":
                require(message.target_address.endswith(".exit"),
                        "%s: directory stream target %s" % (where, message.target))
                features["dir_fetch"] = True
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
    return parsed, seen, features


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
        digests = check_ns_all(binary, 500, 7, False, log)
        routers = len(digests)
        routers += check_consensus_microdesc(binary, 500, 7, digests, log)
        routers += len(check_ns_all(binary, 300, 7, True, log))
        digests = check_ns_all(binary, None, 1, False, log)  # the default 8000-router network
        routers += len(digests)
        routers += check_consensus_microdesc(binary, None, 1, digests, log)
        events, _, _ = check_events(binary, 2000, 7, log)
        # A longer run reaches the rare paths: onion services, NEWNYM, build timeouts.
        more, seen, features = check_events(binary, 30000, 1, log)
        events += more
        for rare in ("CIRC_MINOR", "STREAM_BW", "CIRC_BW"):
            require(seen.get(rare, 0) > 0, "30000 events but no %s" % rare)
        for feature in ("conflux", "conflux_rtt", "hs_pow", "vanguards", "socks_auth",
                        "dir_fetch"):
            require(features.get(feature), "30000 events but no %s" % feature)
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
