"""The errors the ports raise, in one place: adapters raise them, use cases and handlers catch them.

Each says what went wrong in the port's own terms (a version conflict, a send already under way), never in
DynamoDB's or SQS's, so a use case catches the same error from the AWS adapter and from the in-memory fake.
"""

from __future__ import annotations
