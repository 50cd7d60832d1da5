"""The ``puhui-evidence-bundle/1`` document of a sealed contract (R-9.5(g)): the parts the
archive service gathers (``services.archives.contract_evidence``) in the verifier's format, so
``puhui-verify`` checks an exported bundle with no database."""

from __future__ import annotations

from typing import Any

from puhui.adapters.verify import build_bundle, contract_entry, evidence_entry, signature_entry
from puhui.services.archives import ContractEvidence


def bundle_document(parts: ContractEvidence) -> dict[str, Any]:
    c = parts.stored.contract
    return build_bundle(
        contract=contract_entry(
            contract_id=c.contract_id,
            contract_number=c.contract_number,
            template_id=c.template_id.value,
            template_version=c.template_version,
            language=c.language.value,
            pdf=parts.pdf,
            digest_alg=c.digest_algorithm,
        ),
        signatures=[
            signature_entry(role, signature, key, token)
            for role, signature, key, token in parts.signatures
        ],
        tsa_certificates=parts.tsa_certificates,
        evidence=[evidence_entry(event, proof, parts.hasher) for event, proof in parts.leaves],
        tree_head=parts.tree_head,
        log_key=parts.log_key,
        notary_receipt=parts.notary_receipt,
    )
