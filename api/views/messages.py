"""Messages by business key: POST /api/v1/messages."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from api.common import actor, require_scope, valid
from api.serializers import ERRORS
from orchestration import services
from orchestration.services.messages import MAX_TTL


class CorrelateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    business_key = serializers.CharField(max_length=200)
    payload = serializers.DictField(required=False, default=dict)
    ttl = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=int(MAX_TTL.total_seconds()),
        help_text="Seconds to keep the message for an instance that waits for it later; "
        "without it, a message nobody waits for is refused (404).",
    )
    all = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Deliver to every waiting instance (otherwise several is a 409).",
    )


class CorrelatedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    delivered = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the instances it was delivered to."
    )
    buffered = serializers.IntegerField(
        allow_null=True, help_text="The kept message's id, when kept."
    )
    expires_at = serializers.DateTimeField(allow_null=True)


class MessageCorrelate(APIView):
    @extend_schema(
        request=CorrelateSerializer,
        responses={200: CorrelatedSerializer, 202: CorrelatedSerializer, **ERRORS},
        summary="Deliver a message to the instance with a business key",
    )
    def post(self, request: Request) -> Response:
        require_scope(request, "messages:send")
        given = valid(CorrelateSerializer, request.data)
        result = services.message_correlate(
            name=given["name"],
            business_key=given["business_key"],
            payload=given["payload"],
            actor=actor(request),
            deliver_to_all=given["all"],
            ttl=timedelta(seconds=given["ttl"]) if "ttl" in given else None,
            within=permissions.api_definitions_q(request.auth, "definition__key"),
        )
        kept = result.buffered
        return Response(
            {
                "delivered": result.delivered,
                "buffered": kept.pk if kept else None,
                "expires_at": kept.expires_at if kept else None,
            },
            status=202 if kept else 200,
        )
