"""Contract: the service-wide operations (health) and the contract the service serves."""

import pytest
from conftest import load_contract

CONTRACT = load_contract()


@pytest.mark.parametrize("operation_id", ["health"])
def test_operation_matches_contract(operation_id, client):
    assert CONTRACT["paths"]["/health"]["get"]["operationId"] == operation_id
    response = client.request("GET", "/health", tenant=None)
    assert response.status == 200
    assert response.json["status"] == "ok"
    assert set(CONTRACT["components"]["schemas"]["Health"]["required"]) <= set(response.json)


def test_served_contract_is_the_pack0_contract(client):
    assert client.request("GET", "/openapi.json", tenant=None).json == CONTRACT
