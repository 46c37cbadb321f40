"""Message queues, the same task in three SDKs: Azure Queue Storage, Amazon SQS, Google Pub/Sub.

Each function creates a queue, sends messages, receives them, deletes (acknowledges) each one
after "processing" it, checks the queue is empty, then deletes the queue. Receive-then-delete is
the at-least-once pattern all three share: a message that is received but not deleted in time
becomes visible again and another worker gets it.

Azure Queue Storage runs on Azurite and SQS on moto's server. Pub/Sub's own emulator is part of
the gcloud CLI (Java), which no package index ships: `pubsub_demo` runs against it when
PUBSUB_EMULATOR_HOST points at one you started, else against the lab's stand-in
(`pubsub_standin.py`, Pub/Sub's real gRPC API on 127.0.0.1), or against a real project.
"""

from __future__ import annotations

from labs.cloud_sdks.credentials import USE_ENV_REFUSED, AwsTarget, AzureTarget, GcpTarget
from labs.cloud_sdks.steps import StepLog
from shared import serving

VISIBILITY_S = 30  # how long a received message stays hidden from other workers before it reappears


def azure_queue_demo(target: AzureTarget, queue_name: str, messages: list[str], log: StepLog) -> None:
    """Azure Queue Storage with azure-storage-queue: create → send → receive → delete → delete queue."""
    from azure.storage.queue import QueueClient

    if target.queue_connection_string:
        queue = QueueClient.from_connection_string(target.queue_connection_string, queue_name, **target.client_kwargs())
    else:
        from azure.identity import DefaultAzureCredential
        url = target.account_url.replace(".blob.", ".queue.")
        queue = QueueClient(url, queue_name, **target.client_kwargs(), credential=DefaultAzureCredential())
    target.check_client_url(queue.url)  # a shared server checks the host the SDK will call

    with log.step("create queue") as d:
        queue.create_queue()
        d.text = f"queue '{queue_name}'"
    try:
        with log.step("send messages") as d:
            for text in messages:
                queue.send_message(text)
            d.text = f"{len(messages)} message(s)"
        with log.step("receive + delete each") as d:
            done = []
            for msg in queue.receive_messages(max_messages=32, visibility_timeout=VISIBILITY_S):
                done.append(msg.content)  # ... process the job here, then delete it:
                queue.delete_message(msg)
            d.text = f"processed {len(done)}: {', '.join(done)}"
        with log.step("check empty") as d:
            left = queue.get_queue_properties().approximate_message_count
            d.text = f"approximately {left} message(s) left"
    finally:
        with log.step("delete queue") as d:
            queue.delete_queue()
            d.text = "deleted"


def sqs_demo(target: AwsTarget, queue_name: str, messages: list[str], log: StepLog) -> None:
    """Amazon SQS with boto3: create → send (batch) → receive → delete → delete queue."""
    import boto3

    sqs = target.guard(boto3.client("sqs", **target.client_kwargs()))

    with log.step("create queue") as d:
        url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": str(VISIBILITY_S)})["QueueUrl"]
        d.text = url
    try:
        with log.step("send messages (batch)") as d:
            entries = [{"Id": str(i), "MessageBody": text} for i, text in enumerate(messages)]
            for start in range(0, len(entries), 10):  # SQS batches hold at most 10 messages
                sqs.send_message_batch(QueueUrl=url, Entries=entries[start:start + 10])
            d.text = f"{len(messages)} message(s)"
        with log.step("receive + delete each") as d:
            done = []
            while len(done) < len(messages):  # each round adds a message or stops: at most len(messages) rounds
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
                if not got:
                    break
                for msg in got[:10]:
                    done.append(msg["Body"])  # ... process the job here, then delete it:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            d.text = f"processed {len(done)}: {', '.join(sorted(done))}"
        with log.step("check empty") as d:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            d.text = f"approximately {attrs['Attributes']['ApproximateNumberOfMessages']} message(s) left"
    finally:
        with log.step("delete queue") as d:
            sqs.delete_queue(QueueUrl=url)
            d.text = "deleted"


def _emulator_transports(host: str):
    """gRPC transports on a plain (insecure) channel to an emulator at host:port: no TLS, no credentials."""
    import grpc
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    return (PublisherGrpcTransport(channel=grpc.insecure_channel(host)),
            SubscriberGrpcTransport(channel=grpc.insecure_channel(host)))


def pubsub_demo(target: GcpTarget, queue_name: str, messages: list[str], log: StepLog) -> None:
    """Google Cloud Pub/Sub with google-cloud-pubsub: topic + subscription → publish → pull → ack → delete."""
    from google.cloud import pubsub_v1

    if target.kind == "emulator":  # plain gRPC to 127.0.0.1 (or PUBSUB_EMULATOR_HOST), no credentials
        pub_transport, sub_transport = _emulator_transports(target.pubsub_host)
        publisher = pubsub_v1.PublisherClient(transport=pub_transport)
        subscriber = pubsub_v1.SubscriberClient(transport=sub_transport)
    else:
        kwargs: dict = {}
        if target.service_account_info:
            from google.oauth2 import service_account
            kwargs["credentials"] = service_account.Credentials.from_service_account_info(target.service_account_info)
        elif serving.is_shared():  # google.auth.default() would be this server's credentials
            raise serving.RefusedInput(USE_ENV_REFUSED)
        publisher, subscriber = pubsub_v1.PublisherClient(**kwargs), pubsub_v1.SubscriberClient(**kwargs)
    topic = publisher.topic_path(target.project, queue_name)
    subscription = subscriber.subscription_path(target.project, queue_name + "-sub")

    with log.step("create topic + subscription") as d:
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=VISIBILITY_S)
        d.text = subscription
    try:
        with log.step("publish messages") as d:
            futures = [publisher.publish(topic, text.encode()) for text in messages]
            d.text = f"{len([f.result(timeout=30) for f in futures])} message(s)"
        with log.step("pull + ack each") as d:
            done = []
            while len(done) < len(messages):  # each round adds a message or stops: at most len(messages) rounds
                got = subscriber.pull(subscription=subscription, max_messages=10, timeout=10).received_messages[:10]
                if not got:
                    break
                done += [m.message.data.decode() for m in got]  # ... process, then acknowledge:
                subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in got])
            d.text = f"processed {len(done)}: {', '.join(sorted(done))}"
    finally:
        with log.step("delete subscription + topic") as d:
            subscriber.delete_subscription(subscription=subscription)
            publisher.delete_topic(topic=topic)
            d.text = "deleted"
