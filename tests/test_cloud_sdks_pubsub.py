"""Pub/Sub in the cloud_sdks lab: the stand-in's documented semantics (a broker with a fake clock),
the unmodified google-cloud-pubsub client against it over gRPC on 127.0.0.1, and the demo against
Google's own emulator when PUBSUB_EMULATOR_HOST names one."""

from __future__ import annotations

import os

import grpc
import pytest

pytest.importorskip("google.cloud.pubsub_v1", reason="google-cloud-pubsub is in requirements/cloud_sdks.txt")

from google.api_core import exceptions as gexc  # noqa: E402
from google.pubsub_v1.types import pubsub as types  # noqa: E402

from labs.cloud_sdks import credentials, pubsub_standin, queues  # noqa: E402
from labs.cloud_sdks.steps import StepLog  # noqa: E402
from shared import serving  # noqa: E402

pytestmark = pytest.mark.timeout(120)
TOPIC, SUB = "projects/p/topics/jobs", "projects/p/subscriptions/jobs-sub"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _broker(deadline: int = 10) -> tuple[pubsub_standin.Broker, Clock]:
    clock = Clock()
    broker = pubsub_standin.Broker(clock)
    broker.create_topic(types.Topic(name=TOPIC))
    broker.create_subscription(types.Subscription(name=SUB, topic=TOPIC, ack_deadline_seconds=deadline))
    return broker, clock


def _msgs(*texts: str) -> list[types.PubsubMessage]:
    return [types.PubsubMessage(data=t.encode()) for t in texts]


def test_an_unacknowledged_message_comes_back_after_its_deadline():
    broker, clock = _broker(deadline=10)
    broker.publish(TOPIC, _msgs("a", "b"))
    first = broker.pull(SUB, 10)
    assert [m.message.data for m in first] == [b"a", b"b"]
    assert broker.pull(SUB, 10) == []  # leased: nobody else gets them
    broker.acknowledge(SUB, [first[0].ack_id])
    clock.now += 11  # b's lease ran out
    again = broker.pull(SUB, 10)
    assert [m.message.data for m in again] == [b"b"] and again[0].ack_id != first[1].ack_id
    broker.acknowledge(SUB, [first[1].ack_id])  # the stale ack id is ignored, as Pub/Sub does
    clock.now += 11
    assert [m.message.data for m in broker.pull(SUB, 10)] == [b"b"]


def test_ack_deadline_zero_hands_a_message_back_at_once():
    broker, _ = _broker()
    broker.publish(TOPIC, _msgs("a"))
    got = broker.pull(SUB, 1)
    broker.modify_ack_deadline(SUB, [got[0].ack_id], 0)
    assert [m.message.data for m in broker.pull(SUB, 1)] == [b"a"]


def test_a_subscription_gets_only_what_was_published_after_it():
    broker, _ = _broker()
    broker.publish(TOPIC, _msgs("early"))
    late = "projects/p/subscriptions/late-sub"
    broker.create_subscription(types.Subscription(name=late, topic=TOPIC))
    broker.publish(TOPIC, _msgs("later"))
    assert [m.message.data for m in broker.pull(late, 10)] == [b"later"]
    assert [m.message.data for m in broker.pull(SUB, 10)] == [b"early", b"later"]


def test_names_deadlines_and_missing_resources_are_refused_with_pubsub_codes():
    broker, _ = _broker()
    with pytest.raises(pubsub_standin.Abort) as bad:
        broker.create_topic(types.Topic(name="projects/p/topics/x"))  # under 3 characters
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(pubsub_standin.Abort) as goog:
        broker.create_topic(types.Topic(name="projects/p/topics/goog-jobs"))
    assert goog.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(pubsub_standin.Abort) as dup:
        broker.create_topic(types.Topic(name=TOPIC))
    assert dup.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(pubsub_standin.Abort) as deadline:
        broker.create_subscription(types.Subscription(name="projects/p/subscriptions/s2", topic=TOPIC,
                                                      ack_deadline_seconds=5))
    assert deadline.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(pubsub_standin.Abort) as missing:
        broker.publish("projects/p/topics/nope", _msgs("a"))
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_deleting_a_topic_detaches_its_subscriptions():
    broker, _ = _broker()
    broker.delete_topic(TOPIC)
    assert broker.get_subscription(SUB).topic == pubsub_standin.DELETED_TOPIC


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(pubsub_standin, "MAX_BYTES", 10)
    broker, _ = _broker()
    broker.publish(TOPIC, _msgs("12345"))
    with pytest.raises(pubsub_standin.Abort) as full:
        broker.publish(TOPIC, _msgs("123456"))
    assert full.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    got = broker.pull(SUB, 1)
    broker.acknowledge(SUB, [got[0].ack_id])  # acknowledging frees the room
    broker.publish(TOPIC, _msgs("123456"))


@pytest.fixture
def standin():
    server, port = pubsub_standin.serve("127.0.0.1", 0)
    yield f"127.0.0.1:{port}"
    server.stop(0)


def _clients(host: str):
    from google.cloud import pubsub_v1

    pub_transport, sub_transport = queues._emulator_transports(host)
    return pubsub_v1.PublisherClient(transport=pub_transport), pubsub_v1.SubscriberClient(transport=sub_transport)


def test_the_real_client_talks_to_the_stand_in_over_grpc(standin):
    publisher, subscriber = _clients(standin)
    publisher.create_topic(name=TOPIC)
    subscriber.create_subscription(name=SUB, topic=TOPIC, ack_deadline_seconds=30)
    ids = [publisher.publish(TOPIC, b"train", model="a").result(timeout=30) for _ in range(2)]
    assert len(set(ids)) == 2
    got = subscriber.pull(subscription=SUB, max_messages=10, timeout=10).received_messages
    assert [(m.message.data, dict(m.message.attributes)) for m in got] == [(b"train", {"model": "a"})] * 2
    assert got[0].message.publish_time.year >= 2024
    subscriber.acknowledge(subscription=SUB, ack_ids=[m.ack_id for m in got])
    assert subscriber.pull(subscription=SUB, max_messages=10, timeout=10).received_messages == []
    with pytest.raises(gexc.AlreadyExists):
        publisher.create_topic(name=TOPIC)
    with pytest.raises(gexc.NotFound):
        subscriber.get_subscription(subscription="projects/p/subscriptions/none-here")
    with pytest.raises(gexc.MethodNotImplemented, match="PUBSUB_EMULATOR_HOST"):
        subscriber.seek(request={"subscription": SUB})


def test_the_lab_demo_runs_end_to_end_on_the_stand_in(standin):
    target = credentials.GcpTarget("emulator", "stand-in", "ml-labs", pubsub_host=standin)
    log = StepLog("Google Cloud", target.description, [])
    queues.pubsub_demo(target, "ml-lab-jobs", ["x", "y"], log)
    assert [s.operation for s in log.steps] == ["create topic + subscription", "publish messages", "pull + ack each",
                                                "delete subscription + topic"]
    assert all(s.ok for s in log.steps) and log.steps[2].result == "processed 2: x, y"


def test_a_visitor_cannot_point_pubsub_at_the_operators_emulator(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "10.0.0.5:8085")
    monkeypatch.setenv(serving.SHARED_ENV, "1")
    started = []

    class StandIn:
        endpoint = "127.0.0.1:18085"

        def describe(self) -> str:
            return "Pub/Sub stand-in"

    monkeypatch.setattr(credentials.emulators.POOL, "get", lambda key: started.append(key) or StandIn())
    target = credentials.gcp_target(credentials.Credentials(), "pubsub")
    # Shared mode never reads the operator's setting: the lab's own stand-in on loopback is used.
    assert started == ["pubsub"] and target.pubsub_host == "127.0.0.1:18085"


@pytest.mark.skipif(not os.environ.get("PUBSUB_EMULATOR_HOST"), reason="Google's Pub/Sub emulator: set "
                    "PUBSUB_EMULATOR_HOST after `gcloud beta emulators pubsub start` (gcloud CLI, not on a package index)")
def test_the_lab_demo_runs_on_googles_emulator():
    target = credentials.gcp_target(credentials.Credentials(), "pubsub")
    assert "PUBSUB_EMULATOR_HOST" in target.description
    log = StepLog("Google Cloud", target.description, [])
    queues.pubsub_demo(target, "ml-lab-jobs-official", ["x", "y"], log)
    assert log.steps[2].result == "processed 2: x, y"
