"""What only the Kafka adapter does: its topics, its DLT records, its partitions."""
