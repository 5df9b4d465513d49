"""social-response: the Chalice application. Thin on purpose: wiring only, logic lives in ``chalicelib``."""

from chalice import Chalice, ConvertToMiddleware

from chalicelib.api.health import health
from chalicelib.api.webhooks import webhooks
from chalicelib.observability import logger, metrics
from chalicelib.settings import APP_NAME, resources

app = Chalice(app_name=APP_NAME)
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
app.register_middleware(ConvertToMiddleware(metrics.log_metrics))
app.register_blueprint(webhooks)
app.register_blueprint(health)


@app.on_sqs_message(queue=resources().ingest_queue, batch_size=10, name="process_mentions")
def process_mentions(event):
    """Store each queued mention; failed records are reported back so only they are retried (then DLQ'd)."""
    from chalicelib.services.processor import process_batch

    return process_batch(event.to_dict())
