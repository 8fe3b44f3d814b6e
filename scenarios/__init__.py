"""The scenario files that ship with refractory: lessons, papers, treatment examples, benchmarks."""
