"""Pictures and videos in and out, and the record of how an output was made."""
