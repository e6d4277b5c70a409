from services.registry.domain.endpoints import endpoint_allowed


def test_an_empty_allow_list_allows_everything() -> None:
    assert endpoint_allowed("http://169.254.169.254/latest", ())


def test_hosts_suffixes_and_cidr_blocks() -> None:
    allow = ("models.internal", ".example.com", "10.0.0.0/8")
    assert endpoint_allowed("http://models.internal:8000/v1", allow)
    assert endpoint_allowed("https://a.b.example.com/v1", allow)
    assert endpoint_allowed("http://10.200.0.1", allow)
    assert not endpoint_allowed("http://169.254.169.254/latest", allow)
    assert not endpoint_allowed("http://example.com.evil.net", allow)
    assert not endpoint_allowed("http://models.internal.evil.net", allow)
