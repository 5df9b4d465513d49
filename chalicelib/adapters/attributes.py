"""DynamoDB's typed attribute values: the codec's two most used helpers, under the name the adapters first used.

New code imports them from :mod:`chalicelib.adapters.codec`, the one codec every table adapter shares.
"""

from chalicelib.adapters.codec import number, string

__all__ = ["number", "string"]
