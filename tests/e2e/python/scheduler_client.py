#!/usr/bin/env python3
"""A Mesos v1 HTTP scheduler, in the Python standard library only, that checks
a master's scheduler API on the wire (independently of Berth's C++ types).

It subscribes as a MULTI_ROLE framework in role "python", checks the event
stream's framing (HTTP chunked transfer encoding carrying RecordIO records of
JSON events), checks every offer and status update it receives, launches one
shell task, acknowledges its updates, reconciles, launches a task group (the
DEFAULT executor with two tasks, one failing, which takes the other down),
declines other offers, checks the 4xx answers to bad calls, and tears the
framework down.

    scheduler_client.py --master 127.0.0.1:5050 [--timeout 60]

It prints one line per check and exits 0 only if every check passed.
"""

import argparse
import base64
import binascii
import collections
import http.client
import json
import queue
import socket
import sys
import threading
import time

API_PATH = "/api/v1/scheduler"
JSON_TYPE = "application/json"
ROLE = "python"
TASK_ID = "python-client-task"
TASK_COMMAND = "echo python-client-was-here"
TASK_CPUS = 0.1
TASK_MEM = 32.0
TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
                   "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}
# The order in which a command task that succeeds moves through its states.
TASK_LIFECYCLE = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
# The task group: a task that fails and one that would run long, under one executor.
GROUP_EXECUTOR_ID = "python-group-executor"
GROUP_FAILER = "python-group-failer"
GROUP_SLEEPER = "python-group-sleeper"


class Abort(Exception):
    """A failure after which the scenario cannot go on."""


class Checks:
    """Prints one line per check and remembers the failures."""

    def __init__(self):
        self.failures = []

    def expect(self, condition, what, detail=""):
        if condition:
            print(f"ok   - {what}", flush=True)
        else:
            print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)
            self.failures.append(what)
        return condition

    def require(self, condition, what, detail=""):
        if not self.expect(condition, what, detail):
            raise Abort(what)


# ---------------------------------------------------------------------------
# Wire decoding: HTTP/1.1 chunked transfer coding, then RecordIO.


class ChunkedDecoder:
    """Incremental decoder of a chunked HTTP body (RFC 9112 section 7.1).

    Chunk boundaries carry no meaning for the scheduler API: intermediaries
    may re-chunk, so the payload is handed on as a byte stream.
    """

    def __init__(self):
        self.buffer = b""
        self.state = "size"  # size line, chunk data, the CRLF after it, trailer
        self.remaining = 0   # bytes left of the current chunk's data
        self.finished = False  # the zero-length last chunk and its trailer were read

    def feed(self, data):
        self.buffer += data
        out = []
        while not self.finished:
            if self.state == "size":
                line = self._line()
                if line is None:
                    break
                self.remaining = self._chunk_size(line)
                self.state = "data" if self.remaining else "trailer"
            elif self.state == "data":
                if not self.buffer:
                    break
                piece = self.buffer[:self.remaining]
                out.append(piece)
                self.buffer = self.buffer[len(piece):]
                self.remaining -= len(piece)
                if self.remaining == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(self.buffer) < 2:
                    break
                if self.buffer[:2] != b"\r\n":
                    raise ValueError(f"chunk data not followed by CRLF: {self.buffer[:20]!r}")
                self.buffer = self.buffer[2:]
                self.state = "size"
            else:  # trailer fields, ended by an empty line
                line = self._line()
                if line is None:
                    break
                self.finished = line == b""
        return b"".join(out)

    def in_middle(self):
        return self.state != "size" or self.buffer != b""

    def _line(self):
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None
        line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return line

    @staticmethod
    def _chunk_size(line):
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
        try:
            return int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size line {line!r}") from None


class RecordIODecoder:
    """Incremental decoder of RecordIO: `<decimal byte count>\\n<record>`, repeated.

    A record may be split over reads, and one read may hold several records.
    """

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        records = []
        while True:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                if len(self.buffer) > 20:  # longer than any uint64 in decimal
                    raise ValueError(f"no record length line in {self.buffer[:40]!r}")
                break
            length_text = self.buffer[:newline]
            if not length_text.isdigit():
                raise ValueError(f"record length {length_text!r} is not a decimal number")
            length = int(length_text)
            if len(self.buffer) - newline - 1 < length:
                break
            records.append(self.buffer[newline + 1:newline + 1 + length])
            self.buffer = self.buffer[newline + 1 + length:]
        return records


# ---------------------------------------------------------------------------
# HTTP: the subscription stream on its own connection, every other call on
# connections of its own.


def read_response_head(sock, deadline):
    """Reads a response's status line and headers from a raw socket.

    Returns (status, headers with lower-case names, bytes read past the head).
    """
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        piece = sock.recv(65536)
        if not piece:
            raise Abort(f"connection closed before the response head; got {data!r}")
        data += piece
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class EventStream:
    """The SUBSCRIBE connection: a reader thread decodes its events into a queue.

    Queue items are ("event", dict), ("bad", message) for a framing or JSON
    error, and finally ("end", how the stream ended).
    """

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.events = queue.Queue()
        self.sock = None
        self.stopping = threading.Event()

    def open(self, body, deadline):
        self.sock = socket.create_connection((self.host, self.port), timeout=10)
        request = (f"POST {API_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   f"Content-Type: {JSON_TYPE}\r\nAccept: {JSON_TYPE}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.sock.sendall(request)
        status, headers, rest = read_response_head(self.sock, deadline)
        return status, headers, rest

    def read_error_body(self, headers, rest, deadline):
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length and time.monotonic() < deadline:
            piece = self.sock.recv(65536)
            if not piece:
                break
            rest += piece
        return rest.decode(errors="replace")

    def start(self, rest):
        threading.Thread(target=self._read, args=(rest,), daemon=True).start()

    def close(self):
        self.stopping.set()
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def _read(self, data):
        chunks, records = ChunkedDecoder(), RecordIODecoder()
        self.sock.settimeout(0.5)
        try:
            while True:
                for record in records.feed(chunks.feed(data)):
                    self._deliver(record)
                if chunks.finished:
                    self.events.put(("end", self._end_description("last-chunk", records)))
                    return
                data = self._recv()
                if data is None:
                    return
                if not data:
                    how = "eof-inside-a-chunk" if chunks.in_middle() else "eof-without-last-chunk"
                    self.events.put(("end", self._end_description(how, records)))
                    return
        except (ValueError, OSError) as error:
            self.events.put(("bad", f"event stream framing: {error}"))
            self.events.put(("end", "broken"))

    def _recv(self):
        while not self.stopping.is_set():
            try:
                return self.sock.recv(65536)
            except socket.timeout:
                continue
        return None

    def _deliver(self, record):
        try:
            self.events.put(("event", json.loads(record.decode("utf-8"))))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self.events.put(("bad", f"record is not JSON ({error}): {record[:200]!r}"))

    @staticmethod
    def _end_description(how, records):
        if records.buffer:
            return f"{how}, with {len(records.buffer)} bytes of an unfinished record"
        return how


class Master:
    """Non-SUBSCRIBE requests, each on a fresh connection as the API requires."""

    def __init__(self, host, port):
        self.host, self.port = host, port

    def request(self, method, body=b"", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, API_PATH, body=body, headers=headers or {})
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            connection.close()

    def post_json(self, call, extra_headers=None, content_type=JSON_TYPE):
        headers = {"Content-Type": content_type, "Accept": JSON_TYPE}
        headers.update(extra_headers or {})
        body = call if isinstance(call, bytes) else json.dumps(call).encode()
        return self.request("POST", body, headers)


# ---------------------------------------------------------------------------
# Message shapes.


def value_of(message, *path):
    """message[path[0]][path[1]]..., or None where any step is missing."""
    for key in path:
        if not isinstance(message, dict) or key not in message:
            return None
        message = message[key]
    return message


def resource_problems(resource):
    """What is wrong with one Mesos Resource in JSON (empty when nothing)."""
    problems = []
    name, kind = resource.get("name"), resource.get("type")
    if not isinstance(name, str) or not name:
        problems.append("no name")
    if kind == "SCALAR":
        if not isinstance(value_of(resource, "scalar", "value"), (int, float)):
            problems.append(f"{name}: SCALAR without scalar.value")
    elif kind == "RANGES":
        # Mesos writes integer fields, uint64 included, as JSON numbers.
        ranges = value_of(resource, "ranges", "range")
        if not isinstance(ranges, list) or not all(
                isinstance(r.get("begin"), int) and isinstance(r.get("end"), int) for r in ranges):
            problems.append(f"{name}: ranges.range is not a list of {{begin, end}} numbers: "
                            f"{json.dumps(value_of(resource, 'ranges'))}")
    elif kind == "SET":
        if not isinstance(value_of(resource, "set", "item"), list):
            problems.append(f"{name}: SET without set.item")
    else:
        problems.append(f"{name}: type {kind!r} is none of SCALAR, RANGES, SET")
    if value_of(resource, "allocation_info", "role") != ROLE:
        problems.append(f"{name}: allocation_info.role is "
                        f"{value_of(resource, 'allocation_info', 'role')!r}, not {ROLE!r}")
    return problems


def offer_problems(offer, framework_id):
    """What is wrong with one Offer in JSON for this MULTI_ROLE framework."""
    problems = []
    for path in (("id", "value"), ("agent_id", "value"), ("framework_id", "value")):
        if not isinstance(value_of(offer, *path), str) or not value_of(offer, *path):
            problems.append(f"no {'.'.join(path)}")
    if value_of(offer, "framework_id", "value") not in (None, framework_id):
        problems.append(f"framework_id {value_of(offer, 'framework_id', 'value')!r} is not ours")
    if not isinstance(offer.get("hostname"), str) or not offer.get("hostname"):
        problems.append("no hostname")
    port = value_of(offer, "url", "address", "port")
    if not isinstance(port, int) or not 0 < port < 65536:
        problems.append(f"url.address.port is {port!r}")
    if value_of(offer, "allocation_info", "role") != ROLE:
        problems.append(f"allocation_info.role is {value_of(offer, 'allocation_info', 'role')!r}")
    resources = offer.get("resources")
    if not isinstance(resources, list) or not resources:
        problems.append("no resources")
    else:
        for resource in resources:
            problems.extend(resource_problems(resource))
    return problems


def scalar_total(offer, name):
    return sum(value_of(r, "scalar", "value") or 0 for r in offer.get("resources", [])
               if r.get("name") == name and r.get("type") == "SCALAR")


def status_problems(status):
    """What is wrong with one TaskStatus in JSON."""
    problems = []
    if not value_of(status, "task_id", "value"):
        problems.append("no task_id.value")
    if not str(status.get("state", "")).startswith("TASK_"):
        problems.append(f"state {status.get('state')!r}")
    if "uuid" in status:
        try:
            # Bytes fields are base64 in Mesos's JSON.
            base64.b64decode(status["uuid"], validate=True)
        except (binascii.Error, TypeError):
            problems.append(f"uuid {status['uuid']!r} is not base64")
    if "timestamp" in status and not isinstance(status["timestamp"], (int, float)):
        problems.append(f"timestamp {status['timestamp']!r} is not a number")
    return problems


def describe(event):
    """A short one-line summary of an event for failure messages."""
    text = json.dumps(event, separators=(",", ":"))
    return text if len(text) <= 300 else text[:300] + "..."


def resource(name, amount):
    return {"name": name, "type": "SCALAR", "scalar": {"value": amount},
            "allocation_info": {"role": ROLE}}


# ---------------------------------------------------------------------------
# The scheduler.


class Scheduler:
    def __init__(self, host, port, timeout):
        self.master = Master(host, port)
        self.stream = EventStream(host, port)
        self.deadline = time.monotonic() + timeout
        self.checks = Checks()
        self.framework_id = None
        self.stream_id = None
        self.heartbeat_interval = None
        self.offer_results = set()    # the problems found in offers, as printed
        self.offer_to_accept = None   # the one offer the task is launched from
        self.accepted = False
        self.agent_id = None
        self.task_states = []         # our task's states, in order, without repeats
        self.seen_uuids = set()
        self.terminal_update = None   # held unacknowledged until after RECONCILE
        self.reconciled = []          # REASON_RECONCILIATION updates
        self.declines = 0
        self.heartbeats = 0
        self.stream_end = None
        self.recent = collections.deque(maxlen=8)
        self.want_group_offer = False
        self.group_offer = None
        self.tearing_down = False     # offers still in flight then are left alone
        self.final_states = {}        # task id -> its terminal status
        self.failures = []            # FAILURE events

    # -- calls ---------------------------------------------------------------

    def call(self, kind, payload_name=None, payload=None, headers=None):
        """POSTs a call of this framework on its stream; returns (status, body)."""
        call = {"type": kind, "framework_id": {"value": self.framework_id}}
        if payload_name:
            call[payload_name] = payload
        extra = {"Mesos-Stream-Id": self.stream_id}
        extra.update(headers or {})
        status, _, body = self.master.post_json(call, extra)
        return status, body

    def call_accepted(self, kind, payload_name=None, payload=None, what=None):
        status, body = self.call(kind, payload_name, payload)
        return self.checks.expect(status == 202, what or f"{kind} is answered 202 Accepted",
                                  f"HTTP {status} {body!r}")

    # -- events --------------------------------------------------------------

    def next_event(self, wanted, what, timeout=15.0):
        """Handles events until one satisfies wanted(event), and returns it."""
        deadline = min(self.deadline, time.monotonic() + timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Abort(f"timed out waiting for {what}; last events: {list(self.recent)}")
            try:
                kind, item = self.stream.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "bad":
                self.checks.expect(False, "every event is a RecordIO record of a JSON event", item)
                continue
            if kind == "end":
                self.stream_end = item
                raise Abort(f"the event stream ended ({item}) while waiting for {what}")
            self.recent.append(describe(item))
            self.handle(item)
            if wanted(item):
                return item

    def wait_until(self, condition, what, timeout=15.0):
        """Handles events until condition() holds (at once if it already does)."""
        if not condition():
            self.next_event(lambda e: condition(), what, timeout)

    def handle(self, event):
        kind = event.get("type")
        if kind == "OFFERS":
            for offer in value_of(event, "offers", "offers") or []:
                self.handle_offer(offer)
        elif kind == "UPDATE":
            self.handle_update(value_of(event, "update", "status") or {})
        elif kind == "HEARTBEAT":
            self.heartbeats += 1
        elif kind == "FAILURE":
            self.failures.append(event.get("failure") or {})
        elif kind == "ERROR":
            self.checks.expect(False, "no ERROR event", describe(event))

    def handle_offer(self, offer):
        offer_id = value_of(offer, "id", "value")
        problems = offer_problems(offer, self.framework_id)
        # Every offer is checked; a result is printed the first time it is seen.
        if tuple(problems) not in self.offer_results:
            self.offer_results.add(tuple(problems))
            self.checks.expect(not problems, f"offer {offer_id} is a well-formed MULTI_ROLE offer",
                               "; ".join(problems))
        suitable = (value_of(offer, "allocation_info", "role") == ROLE
                    and value_of(offer, "agent_id", "value")
                    and scalar_total(offer, "cpus") >= TASK_CPUS
                    and scalar_total(offer, "mem") >= TASK_MEM)
        group_fits = suitable and scalar_total(offer, "cpus") >= 3 * TASK_CPUS \
            and scalar_total(offer, "mem") >= 3 * TASK_MEM
        if self.offer_to_accept is None and not self.accepted and suitable:
            self.offer_to_accept = offer
        elif self.want_group_offer and self.group_offer is None and group_fits:
            self.group_offer = offer
        else:
            self.decline(offer_id)

    def decline(self, offer_id):
        if self.tearing_down:
            return
        # A short filter keeps the leftover resources from coming straight back.
        if self.call_accepted("DECLINE", "decline",
                              {"offer_ids": [{"value": offer_id}], "filters": {"refuse_seconds": 1}},
                              f"DECLINE of offer {offer_id} is answered 202 Accepted"):
            self.declines += 1

    def handle_update(self, status):
        state, uuid = status.get("state"), status.get("uuid")
        if uuid is not None and uuid in self.seen_uuids:
            return  # a retry of an update already handled (acknowledged or held)
        problems = status_problems(status)
        self.checks.expect(not problems, f"UPDATE {state} is a well-formed TaskStatus",
                           "; ".join(problems) + f" in {describe(status)}")
        if status.get("reason") == "REASON_RECONCILIATION":
            self.reconciled.append(status)
            # Reconciliation updates are not sent reliably: nothing to acknowledge.
            self.checks.expect(uuid is None, f"reconciliation update {state} carries no uuid",
                               describe(status))
            return
        if uuid is None:
            return  # not sent reliably: must not be acknowledged
        self.seen_uuids.add(uuid)
        if state in TERMINAL_STATES:
            self.final_states[value_of(status, "task_id", "value")] = status
        if value_of(status, "task_id", "value") == TASK_ID:
            self.task_states.append(state)
            if state in TERMINAL_STATES:
                self.terminal_update = status
                return  # acknowledged only after RECONCILE, see reconcile()
        self.acknowledge(status)

    def acknowledge(self, status):
        self.call_accepted("ACKNOWLEDGE", "acknowledge", {
            "agent_id": status.get("agent_id"),
            "task_id": status.get("task_id"),
            "uuid": status.get("uuid"),  # the same base64 text as received
        }, f"ACKNOWLEDGE of {status.get('state')} is answered 202 Accepted")

    # -- the scenario ---------------------------------------------------------

    def subscribe(self):
        framework_info = {"user": "root", "name": "python-client", "roles": [ROLE],
                          "capabilities": [{"type": "MULTI_ROLE"}]}
        body = json.dumps({"type": "SUBSCRIBE",
                           "subscribe": {"framework_info": framework_info}}).encode()
        status, headers, rest = self.stream.open(body, self.deadline)
        if status != 200:
            text = self.stream.read_error_body(headers, rest, self.deadline)
            self.checks.require(False, "SUBSCRIBE is answered 200 OK", f"HTTP {status} {text!r}")
        self.checks.expect(True, "SUBSCRIBE is answered 200 OK")
        self.stream_id = headers.get("mesos-stream-id")
        self.checks.require(bool(self.stream_id), "the SUBSCRIBE response has a Mesos-Stream-Id header",
                            f"headers {headers}")
        self.checks.require(headers.get("transfer-encoding", "").lower() == "chunked"
                            and "content-length" not in headers,
                            "the event stream uses chunked transfer encoding", f"headers {headers}")
        # Mesos answers SUBSCRIBE with the Accept type as the stream's Content-Type.
        self.checks.expect(headers.get("content-type", "").split(";")[0].strip() == JSON_TYPE,
                           f"the event stream's Content-Type is {JSON_TYPE}, as in Mesos",
                           f"Content-Type {headers.get('content-type')!r}; headers {headers}")
        self.stream.start(rest)
        self.expect_subscribed()

    def expect_subscribed(self):
        first = self.next_event(lambda e: True, "the first event")
        self.checks.require(first.get("type") == "SUBSCRIBED", "the first event is SUBSCRIBED",
                            describe(first))
        self.framework_id = value_of(first, "subscribed", "framework_id", "value")
        self.checks.require(isinstance(self.framework_id, str) and bool(self.framework_id),
                            "SUBSCRIBED has subscribed.framework_id.value", describe(first))
        self.heartbeat_interval = value_of(first, "subscribed", "heartbeat_interval_seconds")
        self.checks.expect(isinstance(self.heartbeat_interval, (int, float))
                           and self.heartbeat_interval > 0,
                           "SUBSCRIBED has a positive subscribed.heartbeat_interval_seconds",
                           describe(first))
        print(f"     framework {self.framework_id}, stream {self.stream_id}", flush=True)

    def check_bad_calls(self):
        """Bad calls are refused with the documented 4xx status and a message."""
        teardown = {"type": "TEARDOWN", "framework_id": {"value": self.framework_id}}
        self.expect_refused("a call with a wrong Mesos-Stream-Id", 400,
                            *self.master.post_json(teardown, {"Mesos-Stream-Id": "not-our-stream"}))
        self.expect_refused("a call without a Mesos-Stream-Id", 400, *self.master.post_json(teardown))
        self.expect_refused("malformed JSON", 400,
                            *self.master.post_json(b'{"type": "TEARDOWN", ',
                                                   {"Mesos-Stream-Id": self.stream_id}))
        get = self.master.request("GET", headers={"Accept": JSON_TYPE})
        self.expect_refused("a GET", 405, *get)
        self.checks.expect(get[1].get("allow", "").upper() == "POST",
                           "the 405 answer names the allowed method (Allow: POST)", f"headers {get[1]}")
        self.expect_refused("a text/plain body", 415,
                            *self.master.post_json(json.dumps(teardown).encode(),
                                                   {"Mesos-Stream-Id": self.stream_id}, "text/plain"))
        # The scheduler HTTP API documentation: calls made without subscription
        # are answered "403 Forbidden".
        stranger = {"type": "TEARDOWN", "framework_id": {"value": "no-such-framework"}}
        self.expect_refused("a call from an unknown framework id", 403,
                            *self.master.post_json(stranger, {"Mesos-Stream-Id": self.stream_id}))

    def expect_refused(self, what, expected, status, _headers, body):
        self.checks.expect(status == expected and body.strip() != "",
                           f"{what} is refused with {expected} and a message",
                           f"HTTP {status} {body!r}")

    def launch_task(self):
        self.wait_until(lambda: self.offer_to_accept is not None, "an offer to launch the task from")
        offer = self.offer_to_accept
        self.agent_id = value_of(offer, "agent_id", "value")
        task = {
            "name": "python-client",
            "task_id": {"value": TASK_ID},
            "agent_id": {"value": self.agent_id},
            "resources": [resource("cpus", TASK_CPUS), resource("mem", TASK_MEM)],
            "command": {"shell": True, "value": TASK_COMMAND},
        }
        accept = {"offer_ids": [offer["id"]],
                  "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                  # No filter: what the task leaves is offered again, to be declined.
                  "filters": {"refuse_seconds": 0}}
        self.accepted = True
        self.call_accepted("ACCEPT", "accept", accept, f"ACCEPT of offer {offer['id']['value']} "
                                                       f"launching {TASK_ID} is answered 202 Accepted")

    def follow_task(self):
        self.wait_until(lambda: self.terminal_update is not None, f"a terminal update of {TASK_ID}",
                        timeout=30.0)
        states, last = self.task_states, self.terminal_update
        self.checks.expect(last.get("state") == "TASK_FINISHED", f"{TASK_ID} ends TASK_FINISHED",
                           describe(last))
        in_order = all(s in TASK_LIFECYCLE for s in states) and \
            [TASK_LIFECYCLE.index(s) for s in states] == sorted(TASK_LIFECYCLE.index(s) for s in states)
        self.checks.expect(in_order and ("TASK_STARTING" in states or "TASK_RUNNING" in states),
                           f"{TASK_ID} goes TASK_STARTING/TASK_RUNNING then TASK_FINISHED",
                           f"states {states}")
        self.checks.expect(value_of(last, "agent_id", "value") == self.agent_id,
                           "the updates name the offer's agent", describe(last))

    def reconcile(self):
        """Implicit reconciliation while the terminal update is unacknowledged.

        Mesos keeps a task until its terminal update is acknowledged, and an
        implicit reconciliation reports every task the master keeps; the task
        is reported with reason REASON_RECONCILIATION and its latest state.
        """
        before = len(self.reconciled)
        self.call_accepted("RECONCILE", "reconcile", {"tasks": []},
                           "implicit RECONCILE is answered 202 Accepted")
        try:
            self.wait_until(lambda: any(value_of(s, "task_id", "value") == TASK_ID
                                        for s in self.reconciled[before:]),
                            "an UPDATE with reason REASON_RECONCILIATION", timeout=5.0)
            self.checks.expect(True, f"implicit reconciliation reports {TASK_ID} (terminal, "
                                     "unacknowledged) with REASON_RECONCILIATION")
            status = [s for s in self.reconciled[before:] if value_of(s, "task_id", "value") == TASK_ID][0]
            latest = self.terminal_update.get("state")
            self.checks.expect(status.get("state") == latest,
                               f"the reconciliation update reports the latest state {latest}",
                               describe(status))
        except Abort:
            if self.stream_end:
                raise
            self.checks.expect(False, f"implicit reconciliation reports {TASK_ID} (terminal, "
                                      "unacknowledged) with REASON_RECONCILIATION",
                               f"no UPDATE of {TASK_ID} with reason REASON_RECONCILIATION within 5 s "
                               f"({len(self.reconciled) - before} reconciliation updates in all)")
        self.acknowledge(self.terminal_update)

    def reconcile_finished_task(self):
        """Explicit reconciliation of the task once its terminal update is acknowledged.

        Mesos no longer knows the task; its agent is registered, so it answers
        TASK_LOST for a framework without the PARTITION_AWARE capability
        (TASK_GONE for one with it), with reason REASON_RECONCILIATION.
        """
        before = len(self.reconciled)
        self.call_accepted("RECONCILE", "reconcile",
                           {"tasks": [{"task_id": {"value": TASK_ID}, "agent_id": {"value": self.agent_id}}]},
                           "explicit RECONCILE is answered 202 Accepted")
        try:
            self.wait_until(lambda: len(self.reconciled) > before, "an explicit reconciliation UPDATE",
                            timeout=5.0)
            status = self.reconciled[before]
            self.checks.expect(value_of(status, "task_id", "value") == TASK_ID
                               and status.get("state") == "TASK_LOST",
                               f"explicit reconciliation of {TASK_ID}, finished and acknowledged, "
                               "answers TASK_LOST (framework not PARTITION_AWARE)", describe(status))
        except Abort:
            if self.stream_end:
                raise
            self.checks.expect(False, f"explicit reconciliation of {TASK_ID}, finished and acknowledged, "
                                      "answers TASK_LOST (framework not PARTITION_AWARE)",
                               "no reconciliation UPDATE within 5 s")

    def launch_task_group(self):
        """LAUNCH_GROUP with the DEFAULT executor: one task fails, so the
        executor kills the other; the framework hears both ends, each naming
        the executor, then a FAILURE event for the executor."""
        self.want_group_offer = True
        self.wait_until(lambda: self.group_offer is not None, "an offer to launch the task group from",
                        timeout=20.0)
        offer = self.group_offer
        agent_id = value_of(offer, "agent_id", "value")

        def group_task(task_id, command):
            return {"name": task_id, "task_id": {"value": task_id}, "agent_id": {"value": agent_id},
                    "resources": [resource("cpus", TASK_CPUS), resource("mem", TASK_MEM)],
                    "command": {"shell": True, "value": command}}
        executor = {"type": "DEFAULT", "executor_id": {"value": GROUP_EXECUTOR_ID},
                    "framework_id": {"value": self.framework_id},
                    "resources": [resource("cpus", TASK_CPUS), resource("mem", TASK_MEM)]}
        group = {"executor": executor,
                 "task_group": {"tasks": [group_task(GROUP_SLEEPER, "sleep 60"),
                                          group_task(GROUP_FAILER, "sleep 0.2; exit 3")]}}
        self.call_accepted("ACCEPT", "accept", {"offer_ids": [offer["id"]],
                                                "operations": [{"type": "LAUNCH_GROUP", "launch_group": group}],
                                                "filters": {"refuse_seconds": 0}},
                           "ACCEPT with a LAUNCH_GROUP operation is answered 202 Accepted")
        self.want_group_offer = False
        self.wait_until(lambda: GROUP_FAILER in self.final_states and GROUP_SLEEPER in self.final_states,
                        "terminal updates of both tasks of the group", timeout=30.0)
        failer, sleeper = self.final_states[GROUP_FAILER], self.final_states[GROUP_SLEEPER]
        self.checks.expect(failer.get("state") == "TASK_FAILED", f"{GROUP_FAILER} ends TASK_FAILED",
                           describe(failer))
        self.checks.expect(sleeper.get("state") == "TASK_KILLED",
                           f"{GROUP_SLEEPER} is killed when its group's other task fails", describe(sleeper))
        self.checks.expect(all(value_of(s, "executor_id", "value") == GROUP_EXECUTOR_ID for s in (failer, sleeper)),
                           "the group's updates name its executor", f"{describe(failer)}; {describe(sleeper)}")
        self.wait_until(lambda: any(value_of(f, "executor_id", "value") == GROUP_EXECUTOR_ID
                                    for f in self.failures), "a FAILURE event for the group's executor")
        failure = [f for f in self.failures if value_of(f, "executor_id", "value") == GROUP_EXECUTOR_ID][0]
        self.checks.expect(value_of(failure, "agent_id", "value") == agent_id and failure.get("status", 0) != 0,
                           "FAILURE names the executor's agent and a non-zero status", json.dumps(failure))

    def expect_declines_and_heartbeat(self):
        # The ACCEPT left resources unfiltered, so the master offers them again.
        self.wait_until(lambda: self.declines > 0, "another offer to decline", timeout=10.0)
        self.checks.expect(True, f"other offers were declined ({self.declines})")
        self.wait_until(lambda: self.heartbeats > 0, "a HEARTBEAT event",
                        timeout=2 * (self.heartbeat_interval or 15) + 1)
        self.checks.expect(True, "a HEARTBEAT event arrived")

    def teardown(self):
        self.tearing_down = True
        self.call_accepted("TEARDOWN", what="TEARDOWN is answered 202 Accepted")
        try:
            self.next_event(lambda e: False, "the end of the event stream", timeout=10.0)
        except Abort:
            pass
        self.checks.expect(self.stream_end is not None, "the event stream ends after TEARDOWN",
                           f"last events: {list(self.recent)}")
        if self.stream_end is not None:
            self.checks.expect(self.stream_end == "last-chunk",
                               "the event stream ends with the last (zero-length) chunk",
                               f"it ended with {self.stream_end}")

    def run(self):
        try:
            self.subscribe()
            self.check_bad_calls()
            self.launch_task()
            self.follow_task()
            self.reconcile()
            self.reconcile_finished_task()
            self.launch_task_group()
            self.expect_declines_and_heartbeat()
            self.teardown()
        except Abort as abort:
            if not self.checks.failures or str(abort) != self.checks.failures[-1]:
                self.checks.expect(False, "the scenario ran to its end", str(abort))
            self.try_teardown()
        except (OSError, http.client.HTTPException) as error:
            self.checks.expect(False, "the master answers HTTP", f"{type(error).__name__}: {error}")
            self.try_teardown()
        finally:
            self.stream.close()
        return not self.checks.failures

    def try_teardown(self):
        """After a failure, still remove the framework so that nothing is left running."""
        if self.framework_id and self.stream_end is None:
            try:
                self.call("TEARDOWN")
            except (OSError, http.client.HTTPException):
                pass


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--master", required=True, help="the master's HOST:PORT")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run")
    args = parser.parse_args()
    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--master {args.master!r} is not HOST:PORT")
    return host, int(port), args.timeout


def main():
    host, port, timeout = parse_args()
    scheduler = Scheduler(host, port, timeout)
    passed = scheduler.run()
    failures = scheduler.checks.failures
    if passed:
        print("PASS: every check passed")
        return 0
    print(f"FAILED: {len(failures)} check(s):")
    for failure in failures:
        print(f"  - {failure}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
