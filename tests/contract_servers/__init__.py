"""Local HTTP servers that play the platforms' posting APIs for the publisher tests, one per platform.

Each enforces its platform's documented contract (path, method, auth header, body shape and length limits), keeps
what was posted (so a test can count posts), and answers the platform's documented error bodies and codes. Faults
are scripted per write: accept then hang past the client's timeout, 429 with the platform's reset headers, 5xx,
an expired access token, a revoked grant.
"""
