"""Kafka consumers: analytics, audit and notifications, each one Lambda function."""
