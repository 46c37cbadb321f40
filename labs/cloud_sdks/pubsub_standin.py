"""A small Pub/Sub server on 127.0.0.1 that speaks Google's real gRPC API, for the lab's Google column.

    python pubsub_standin.py --port 8085 [--host 127.0.0.1]

Google's own Pub/Sub emulator ships only inside the gcloud CLI (Java), which no package index
carries, so the lab cannot install or start it. This stand-in serves the part of the API the lab
uses, over the same wire protocol (gRPC, the messages of `google.pubsub.v1`), so the unmodified
`google-cloud-pubsub` client talks to it exactly as it talks to Google:

- Publisher: CreateTopic, GetTopic, ListTopics, Publish, DeleteTopic.
- Subscriber: CreateSubscription, GetSubscription, Pull, Acknowledge, ModifyAckDeadline,
  DeleteSubscription.

Pub/Sub's documented behaviour is kept where the lab shows it: names are checked
(`projects/P/topics/T`, 3-255 characters, starting with a letter); creating an existing topic
or subscription is ALREADY_EXISTS and using a missing one NOT_FOUND; a subscription receives
only messages published after it was created; a pulled message that is not acknowledged within
its ack deadline (10-600 s) is delivered again (at-least-once); deleting a topic leaves its
subscriptions attached to `_deleted-topic_`. Anything else answers UNIMPLEMENTED with the list
above. Memory is bounded: at most MAX_RESOURCES topics and subscriptions and MAX_BYTES of
undelivered messages in all, past which Publish answers RESOURCE_EXHAUSTED.

Set PUBSUB_EMULATOR_HOST to use Google's emulator instead. Runs as a script (the lab starts it
through `supervise.py`); it imports only grpc and the message classes of google-cloud-pubsub.
"""

from __future__ import annotations

import argparse
import itertools
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:  # imported where used, like every heavy library in the labs
    from google.pubsub_v1.types import pubsub as types

MAX_RESOURCES = 2000  # topics + subscriptions
MAX_BYTES = 64 * 1024 * 1024  # undelivered message data over all subscriptions
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # Pub/Sub's own per-message limit
MIN_ACK_S, MAX_ACK_S, DEFAULT_ACK_S = 10, 600, 10
DELETED_TOPIC = "_deleted-topic_"
NAME = re.compile(r"^projects/([^/]+)/(topics|subscriptions)/([A-Za-z][A-Za-z0-9\-_.~+%]{2,254})$")
SERVED = ("Publisher: CreateTopic, GetTopic, ListTopics, Publish, DeleteTopic; Subscriber: CreateSubscription, "
          "GetSubscription, Pull, Acknowledge, ModifyAckDeadline, DeleteSubscription")


class Abort(Exception):
    """A gRPC error status for the caller, with Pub/Sub's wording."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_name(name: str, kind: str) -> None:
    """Refuse a resource name that is not `projects/P/<kind>/NAME` with Pub/Sub's naming rules."""
    match = NAME.match(name or "")
    if not match or match.group(2) != kind or match.group(3).lower().startswith("goog"):
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT,
                    f"Invalid resource name given (name={name}). Refer to "
                    "https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names for more information.")


@dataclass
class Pending:
    """A message waiting in one subscription: never delivered (deadline 0) or leased until `deadline`."""

    message: types.PubsubMessage
    deadline: float = 0.0
    attempts: int = 0
    ack_id: str = ""


@dataclass
class Sub:
    proto: types.Subscription
    pending: dict[str, Pending] = field(default_factory=dict)  # message id -> message, in publish order


class Broker:
    """Topics, subscriptions and messages, behind one lock. `clock` is injectable for tests."""

    def __init__(self, clock=time.monotonic) -> None:
        from google.pubsub_v1.types import pubsub

        self.types = pubsub  # google-cloud-pubsub's own message classes
        self.clock = clock
        self.lock = threading.Lock()
        self.topics: dict[str, types.Topic] = {}
        self.subs: dict[str, Sub] = {}
        self.bytes = 0
        self.ids = itertools.count(1)

    def _room(self) -> None:
        if len(self.topics) + len(self.subs) >= MAX_RESOURCES:
            raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"This stand-in holds at most {MAX_RESOURCES} topics and "
                        "subscriptions; delete some.")

    def create_topic(self, topic: types.Topic) -> types.Topic:
        check_name(topic.name, "topics")
        with self.lock:
            if topic.name in self.topics:
                raise Abort(grpc.StatusCode.ALREADY_EXISTS, "Topic already exists")
            self._room()
            self.topics[topic.name] = self.types.Topic(name=topic.name, labels=dict(topic.labels))
            return self.topics[topic.name]

    def get_topic(self, name: str) -> types.Topic:
        with self.lock:
            if name not in self.topics:
                raise Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {name}")
            return self.topics[name]

    def list_topics(self, project: str) -> list[types.Topic]:
        with self.lock:
            return [t for n, t in sorted(self.topics.items()) if n.startswith(project + "/topics/")]

    def delete_topic(self, name: str) -> None:
        with self.lock:
            if self.topics.pop(name, None) is None:
                raise Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {name}")
            for sub in self.subs.values():
                if sub.proto.topic == name:
                    sub.proto.topic = DELETED_TOPIC

    def publish(self, topic: str, messages) -> list[str]:
        if not messages:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "At least one message must be published.")
        size = sum(len(m.data) for m in messages)
        if any(len(m.data) > MAX_MESSAGE_BYTES for m in messages):
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "A message is larger than Pub/Sub's 10 MB limit.")
        with self.lock:
            if topic not in self.topics:
                raise Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {topic}")
            targets = [s for s in self.subs.values() if s.proto.topic == topic]
            if self.bytes + size * len(targets) > MAX_BYTES:
                raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"This stand-in keeps at most {MAX_BYTES >> 20} MB of "
                            "undelivered messages; pull and acknowledge some first.")
            from google.protobuf import timestamp_pb2

            now = timestamp_pb2.Timestamp()
            now.GetCurrentTime()
            ids = []
            for message in messages:
                msg_id = str(next(self.ids))
                ids.append(msg_id)
                stored = self.types.PubsubMessage(data=message.data, attributes=dict(message.attributes),
                                                  ordering_key=message.ordering_key, message_id=msg_id, publish_time=now)
                for sub in targets:
                    sub.pending[msg_id] = Pending(stored)
            self.bytes += size * len(targets)
            return ids

    def create_subscription(self, sub: types.Subscription) -> types.Subscription:
        check_name(sub.name, "subscriptions")
        deadline = sub.ack_deadline_seconds or DEFAULT_ACK_S
        if not MIN_ACK_S <= deadline <= MAX_ACK_S:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid ack deadline given: {deadline} "
                        f"(it must be between {MIN_ACK_S} and {MAX_ACK_S} seconds).")
        with self.lock:
            if sub.topic not in self.topics:
                raise Abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {sub.topic}")
            if sub.name in self.subs:
                raise Abort(grpc.StatusCode.ALREADY_EXISTS, "Subscription already exists")
            self._room()
            proto = self.types.Subscription(name=sub.name, topic=sub.topic, ack_deadline_seconds=deadline,
                                            labels=dict(sub.labels))
            self.subs[sub.name] = Sub(proto)
            return proto

    def _sub(self, name: str) -> Sub:
        if name not in self.subs:
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Subscription does not exist: {name}")
        return self.subs[name]

    def get_subscription(self, name: str) -> types.Subscription:
        with self.lock:
            return self._sub(name).proto

    def delete_subscription(self, name: str) -> None:
        with self.lock:
            sub = self._sub(name)
            self.bytes -= sum(len(p.message.data) for p in sub.pending.values())
            del self.subs[name]

    def pull(self, name: str, max_messages: int) -> list[types.ReceivedMessage]:
        if max_messages <= 0:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "max_messages must be positive.")
        with self.lock:
            sub = self._sub(name)
            now, out = self.clock(), []
            for msg_id, item in sub.pending.items():
                if len(out) >= max_messages:
                    break
                if item.deadline > now:  # leased to another puller
                    continue
                item.attempts += 1
                item.deadline = now + sub.proto.ack_deadline_seconds
                item.ack_id = f"{msg_id}-{item.attempts}"  # a redelivery gets a new ack id
                out.append(self.types.ReceivedMessage(ack_id=item.ack_id, message=item.message))
            return out

    def _leased(self, sub: Sub, ack_id: str) -> Pending | None:
        msg_id = ack_id.split("-", 1)[0]
        item = sub.pending.get(msg_id)
        return item if item is not None and item.ack_id == ack_id and item.deadline > self.clock() else None

    def acknowledge(self, name: str, ack_ids) -> None:
        with self.lock:
            sub = self._sub(name)
            for ack_id in ack_ids:
                item = self._leased(sub, ack_id)
                if item is not None:  # an expired or unknown ack id is ignored, as Pub/Sub does
                    del sub.pending[item.message.message_id]
                    self.bytes -= len(item.message.data)

    def modify_ack_deadline(self, name: str, ack_ids, seconds: int) -> None:
        if not 0 <= seconds <= MAX_ACK_S:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid ack deadline given: {seconds}")
        with self.lock:
            sub = self._sub(name)
            for ack_id in ack_ids:
                item = self._leased(sub, ack_id)
                if item is not None:
                    item.deadline = self.clock() + seconds  # 0 hands the message back at once


def _handlers(broker: Broker) -> list[grpc.GenericRpcHandler]:
    """The two services, each method decoding the real request message and encoding the real reply."""
    from google.protobuf import empty_pb2

    types = broker.types
    empty = empty_pb2.Empty()

    def unary(request_type, response_type, fn):
        def behaviour(request, context):
            try:
                return response_type.pb(fn(request)) if response_type is not None else fn(request)
            except Abort as exc:
                context.abort(exc.code, str(exc))

        return grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=lambda raw: request_type.deserialize(raw),
            response_serializer=lambda reply: reply.SerializeToString())

    def done(fn):
        def run(request):
            fn(request)
            return empty
        return run

    publisher = {
        "CreateTopic": unary(types.Topic, types.Topic, broker.create_topic),
        "GetTopic": unary(types.GetTopicRequest, types.Topic, lambda r: broker.get_topic(r.topic)),
        "ListTopics": unary(types.ListTopicsRequest, types.ListTopicsResponse,
                            lambda r: types.ListTopicsResponse(topics=broker.list_topics(r.project))),
        "Publish": unary(types.PublishRequest, types.PublishResponse,
                         lambda r: types.PublishResponse(message_ids=broker.publish(r.topic, r.messages))),
        "DeleteTopic": unary(types.DeleteTopicRequest, None, done(lambda r: broker.delete_topic(r.topic))),
    }
    subscriber = {
        "CreateSubscription": unary(types.Subscription, types.Subscription, broker.create_subscription),
        "GetSubscription": unary(types.GetSubscriptionRequest, types.Subscription,
                                 lambda r: broker.get_subscription(r.subscription)),
        "Pull": unary(types.PullRequest, types.PullResponse,
                      lambda r: types.PullResponse(received_messages=broker.pull(r.subscription, r.max_messages))),
        "Acknowledge": unary(types.AcknowledgeRequest, None, done(lambda r: broker.acknowledge(r.subscription, r.ack_ids))),
        "ModifyAckDeadline": unary(types.ModifyAckDeadlineRequest, None, done(
            lambda r: broker.modify_ack_deadline(r.subscription, r.ack_ids, r.ack_deadline_seconds))),
        "DeleteSubscription": unary(types.DeleteSubscriptionRequest, None,
                                    done(lambda r: broker.delete_subscription(r.subscription))),
    }

    class Unimplemented(grpc.GenericRpcHandler):
        def service(self, details):
            def behaviour(request, context):
                context.abort(grpc.StatusCode.UNIMPLEMENTED,
                              f"{details.method} is not served by the lab's Pub/Sub stand-in (it serves {SERVED}); "
                              "set PUBSUB_EMULATOR_HOST to use Google's emulator")
            return grpc.unary_unary_rpc_method_handler(behaviour)

    return [grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", publisher),
            grpc.method_handlers_generic_handler("google.pubsub.v1.Subscriber", subscriber), Unimplemented()]


def serve(host: str, port: int, broker: Broker | None = None) -> tuple[grpc.Server, int]:
    """Start the server on host:port (0: any free port); returns it and the port it listens on."""
    server = grpc.server(ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES + 1024 * 1024)])
    server.add_generic_rpc_handlers(_handlers(broker or Broker()))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot listen on {host}:{port} (in use)")
    server.start()
    return server, bound


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    args = parser.parse_args(argv)
    try:
        server, port = serve(args.host, args.port)
    except (OSError, RuntimeError) as exc:
        raise SystemExit(f"Pub/Sub stand-in: {exc}")
    print(f"Pub/Sub stand-in listening on {args.host}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
