"""Business rules, HTTP-free. Each service takes a Session, the actor, `now` and plain values."""
