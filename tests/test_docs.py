"""The contracts served as they are, and the reference page's files: none of it is a vendor request."""

from __future__ import annotations

from mock_server.resources import control_spec_path
from mock_server.resources import vendor_spec_path


def test_both_contracts_are_served_byte_for_byte(client):
    for url, path in (("/openapi.yaml", vendor_spec_path()), ("/__mock/openapi.yaml", control_spec_path())):
        answer = client.get(url)
        assert answer.status_code == 200 and answer.mimetype == "application/yaml"
        assert answer.data == path.read_bytes()


def test_the_reference_page_loads_only_its_own_files(client):
    page = client.get("/docs/").get_data(as_text=True)
    assert '"validatorUrl": null' in page  # Swagger UI's default badge would call a public validator
    assert "/openapi.yaml" in page and "/__mock/openapi.yaml" in page
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui-standalone-preset.js", "/docs/swagger-ui.css"):
        assert asset in page
        assert client.get(asset).status_code == 200


def test_docs_and_contracts_stay_out_of_the_request_journal(client, mock):
    for url in ("/openapi.yaml", "/docs/", "/docs/swagger-ui.css", "/__mock/", "/__mock/overview"):
        assert client.get(url).status_code == 200
    assert mock.journal("requests") == []
