"""Deployment settings shared by the AWS and GCP adapters (parsed from the one config file)."""
