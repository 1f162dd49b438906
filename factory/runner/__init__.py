"""Running the generated tests: commands, timeouts, full output kept, results parsed from JUnit XML."""
