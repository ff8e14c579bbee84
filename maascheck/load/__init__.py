"""Load tests: Locust users, the streaming client, metrics, shapes, workloads and reports."""
