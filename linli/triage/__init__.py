"""Smart triage (智能分拨): a text classifier that suggests an appeal's category, versioned with its evaluation."""
