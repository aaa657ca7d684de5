#!/usr/bin/env bash
# Rendered by `opwatch gcp deploy --dry-run`: review, then run (re-running converges).
# config: example.toml
set -euo pipefail

# APIs the deployment uses
gcloud services enable cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com eventarc.googleapis.com pubsub.googleapis.com cloudscheduler.googleapis.com secretmanager.googleapis.com firestore.googleapis.com iam.googleapis.com monitoring.googleapis.com --project=opwatch-example
# service account for sequencer_liveness
gcloud iam service-accounts describe opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-sequencer-liveness '--display-name=opwatch sequencer_liveness' --project=opwatch-example
# service account for batcher_lag
gcloud iam service-accounts describe opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-batcher-lag '--display-name=opwatch batcher_lag' --project=opwatch-example
# service account for batch_submission
gcloud iam service-accounts describe opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-batch-submission '--display-name=opwatch batch_submission' --project=opwatch-example
# service account for finality
gcloud iam service-accounts describe opwatch-finality@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-finality '--display-name=opwatch finality' --project=opwatch-example
# service account for wallet_runway
gcloud iam service-accounts describe opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-wallet-runway '--display-name=opwatch wallet_runway' --project=opwatch-example
# service account for tx_health
gcloud iam service-accounts describe opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-tx-health '--display-name=opwatch tx_health' --project=opwatch-example
# service account for proposer_freshness
gcloud iam service-accounts describe opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-proposer-freshness '--display-name=opwatch proposer_freshness' --project=opwatch-example
# service account for output_root
gcloud iam service-accounts describe opwatch-output-root@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-output-root '--display-name=opwatch output_root' --project=opwatch-example
# service account for withdrawals
gcloud iam service-accounts describe opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-withdrawals '--display-name=opwatch withdrawals' --project=opwatch-example
# service account for l1_contracts
gcloud iam service-accounts describe opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-l1-contracts '--display-name=opwatch l1_contracts' --project=opwatch-example
# service account for rpc_sync
gcloud iam service-accounts describe opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-rpc-sync '--display-name=opwatch rpc_sync' --project=opwatch-example
# service account for snapshot_freshness
gcloud iam service-accounts describe opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-snapshot-freshness '--display-name=opwatch snapshot_freshness' --project=opwatch-example
# service account for heartbeat
gcloud iam service-accounts describe opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-heartbeat '--display-name=opwatch heartbeat' --project=opwatch-example
# service account for pager
gcloud iam service-accounts describe opwatch-pager@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-pager '--display-name=opwatch pager' --project=opwatch-example
# service account for remedy-topup
gcloud iam service-accounts describe opwatch-remedy-topup@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-remedy-topup '--display-name=opwatch remedy-topup' --project=opwatch-example
# service account for remedy-snapshot
gcloud iam service-accounts describe opwatch-remedy-snapshot@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-remedy-snapshot '--display-name=opwatch remedy-snapshot' --project=opwatch-example
# service account for remedy-failover
gcloud iam service-accounts describe opwatch-remedy-failover@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-remedy-failover '--display-name=opwatch remedy-failover' --project=opwatch-example
# service account for push
gcloud iam service-accounts describe opwatch-push@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-push '--display-name=opwatch push' --project=opwatch-example
# secret opwatch-pagerduty-routing-key must exist (add a version yourself; the plan never holds a value)
gcloud secrets describe opwatch-pagerduty-routing-key --project=opwatch-example >/dev/null || { echo 'create secret opwatch-pagerduty-routing-key first: gcloud secrets create opwatch-pagerduty-routing-key --project=opwatch-example --data-file=-' >&2; exit 1; }
# secret opwatch-config must exist (add a version yourself; the plan never holds a value)
gcloud secrets describe opwatch-config --project=opwatch-example >/dev/null || { echo 'create secret opwatch-config first: gcloud secrets create opwatch-config --project=opwatch-example --data-file=-' >&2; exit 1; }
# secret opwatch-funder-key must exist (add a version yourself; the plan never holds a value)
gcloud secrets describe opwatch-funder-key --project=opwatch-example >/dev/null || { echo 'create secret opwatch-funder-key first: gcloud secrets create opwatch-funder-key --project=opwatch-example --data-file=-' >&2; exit 1; }
# topic opwatch-findings
gcloud pubsub topics describe opwatch-findings --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-findings --project=opwatch-example
# topic opwatch-findings-dead
gcloud pubsub topics describe opwatch-findings-dead --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-findings-dead --project=opwatch-example
# topic opwatch-tick-sequencer-liveness
gcloud pubsub topics describe opwatch-tick-sequencer-liveness --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-sequencer-liveness --project=opwatch-example
# topic opwatch-tick-batcher-lag
gcloud pubsub topics describe opwatch-tick-batcher-lag --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-batcher-lag --project=opwatch-example
# topic opwatch-tick-batch-submission
gcloud pubsub topics describe opwatch-tick-batch-submission --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-batch-submission --project=opwatch-example
# topic opwatch-tick-finality
gcloud pubsub topics describe opwatch-tick-finality --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-finality --project=opwatch-example
# topic opwatch-tick-wallet-runway
gcloud pubsub topics describe opwatch-tick-wallet-runway --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-wallet-runway --project=opwatch-example
# topic opwatch-tick-tx-health
gcloud pubsub topics describe opwatch-tick-tx-health --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-tx-health --project=opwatch-example
# topic opwatch-tick-proposer-freshness
gcloud pubsub topics describe opwatch-tick-proposer-freshness --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-proposer-freshness --project=opwatch-example
# topic opwatch-tick-output-root
gcloud pubsub topics describe opwatch-tick-output-root --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-output-root --project=opwatch-example
# topic opwatch-tick-withdrawals
gcloud pubsub topics describe opwatch-tick-withdrawals --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-withdrawals --project=opwatch-example
# topic opwatch-tick-l1-contracts
gcloud pubsub topics describe opwatch-tick-l1-contracts --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-l1-contracts --project=opwatch-example
# topic opwatch-tick-rpc-sync
gcloud pubsub topics describe opwatch-tick-rpc-sync --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-rpc-sync --project=opwatch-example
# topic opwatch-tick-snapshot-freshness
gcloud pubsub topics describe opwatch-tick-snapshot-freshness --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-snapshot-freshness --project=opwatch-example
# topic opwatch-tick-heartbeat
gcloud pubsub topics describe opwatch-tick-heartbeat --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub topics create opwatch-tick-heartbeat --project=opwatch-example
# Firestore database for alert state
gcloud firestore databases describe '--database=(default)' --project=opwatch-example >/dev/null 2>&1 || gcloud firestore databases create '--database=(default)' --location=europe-west1 --type=firestore-native --project=opwatch-example
# TTL on alert_transition.expires_at (history and closed alerts age out)
gcloud firestore fields ttls update expires_at --collection-group=alert_transition --enable-ttl '--database=(default)' --async --project=opwatch-example
# TTL on dead_letter.expires_at (history and closed alerts age out)
gcloud firestore fields ttls update expires_at --collection-group=dead_letter --enable-ttl '--database=(default)' --async --project=opwatch-example
# TTL on alert_state.expires_at (history and closed alerts age out)
gcloud firestore fields ttls update expires_at --collection-group=alert_state --enable-ttl '--database=(default)' --async --project=opwatch-example
# TTL on alert_silence.expires_at (history and closed alerts age out)
gcloud firestore fields ttls update expires_at --collection-group=alert_silence --enable-ttl '--database=(default)' --async --project=opwatch-example
# Firestore database for check memory
gcloud firestore databases describe --database=opwatch-memory --project=opwatch-example >/dev/null 2>&1 || gcloud firestore databases create --database=opwatch-memory --location=europe-west1 --type=firestore-native --project=opwatch-example
# TTL on check_memory.expires_at (old observations age out)
gcloud firestore fields ttls update expires_at --collection-group=check_memory --enable-ttl --database=opwatch-memory --async --project=opwatch-example
# Firestore database for remedy state (caps, claims, leases, audit)
gcloud firestore databases describe --database=opwatch-remedies --project=opwatch-example >/dev/null 2>&1 || gcloud firestore databases create --database=opwatch-remedies --location=europe-west1 --type=firestore-native --project=opwatch-example
# TTL on opwatch_remedy_leases.expires_at (leases and audit records age out)
gcloud firestore fields ttls update expires_at --collection-group=opwatch_remedy_leases --enable-ttl --database=opwatch-remedies --async --project=opwatch-example
# TTL on opwatch_remedy_audit.expires_at (leases and audit records age out)
gcloud firestore fields ttls update expires_at --collection-group=opwatch_remedy_audit --enable-ttl --database=opwatch-remedies --async --project=opwatch-example
# heartbeat bucket gs://opwatch-example-heartbeats
gcloud storage buckets describe gs://opwatch-example-heartbeats --project=opwatch-example >/dev/null 2>&1 || gcloud storage buckets create gs://opwatch-example-heartbeats --location=europe-west1 --uniform-bucket-level-access --public-access-prevention --project=opwatch-example
# service account for beat-reader (the AWS side reads this side's beats as it)
gcloud iam service-accounts describe opwatch-beat-reader@opwatch-example.iam.gserviceaccount.com --project=opwatch-example >/dev/null 2>&1 || gcloud iam service-accounts create opwatch-beat-reader '--display-name=opwatch beat-reader' --project=opwatch-example
# beat-reader: roles/storage.objectViewer on gs://opwatch-example-heartbeats (then: gcloud storage hmac create opwatch-beat-reader@opwatch-example.iam.gserviceaccount.com, into the AWS secret read_key names)
gcloud storage buckets add-iam-policy-binding gs://opwatch-example-heartbeats --member=serviceAccount:opwatch-beat-reader@opwatch-example.iam.gserviceaccount.com --role=roles/storage.objectViewer --project=opwatch-example
# snapshot bucket gs://opwatch-example-snapshots
gcloud storage buckets describe gs://opwatch-example-snapshots --project=opwatch-example >/dev/null 2>&1 || gcloud storage buckets create gs://opwatch-example-snapshots --location=europe-west1 --uniform-bucket-level-access --public-access-prevention --project=opwatch-example
# function opwatch-sequencer-liveness (entry point sequencer_liveness)
gcloud functions deploy opwatch-sequencer-liveness --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=sequencer_liveness --service-account=opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-sequencer-liveness --trigger-service-account=opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-batcher-lag (entry point batcher_lag)
gcloud functions deploy opwatch-batcher-lag --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=batcher_lag --service-account=opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-batcher-lag --trigger-service-account=opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-batch-submission (entry point batch_submission)
gcloud functions deploy opwatch-batch-submission --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=batch_submission --service-account=opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-batch-submission --trigger-service-account=opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-finality (entry point finality)
gcloud functions deploy opwatch-finality --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=finality --service-account=opwatch-finality@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-finality --trigger-service-account=opwatch-finality@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-wallet-runway (entry point wallet_runway)
gcloud functions deploy opwatch-wallet-runway --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=wallet_runway --service-account=opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-wallet-runway --trigger-service-account=opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-tx-health (entry point tx_health)
gcloud functions deploy opwatch-tx-health --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=tx_health --service-account=opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-tx-health --trigger-service-account=opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-proposer-freshness (entry point proposer_freshness)
gcloud functions deploy opwatch-proposer-freshness --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=proposer_freshness --service-account=opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-proposer-freshness --trigger-service-account=opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-output-root (entry point output_root)
gcloud functions deploy opwatch-output-root --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=output_root --service-account=opwatch-output-root@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-output-root --trigger-service-account=opwatch-output-root@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-withdrawals (entry point withdrawals)
gcloud functions deploy opwatch-withdrawals --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=withdrawals --service-account=opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-withdrawals --trigger-service-account=opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-l1-contracts (entry point l1_contracts)
gcloud functions deploy opwatch-l1-contracts --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=l1_contracts --service-account=opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-l1-contracts --trigger-service-account=opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-rpc-sync (entry point rpc_sync)
gcloud functions deploy opwatch-rpc-sync --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=rpc_sync --service-account=opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-rpc-sync --trigger-service-account=opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-snapshot-freshness (entry point snapshot_freshness)
gcloud functions deploy opwatch-snapshot-freshness --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=snapshot_freshness --service-account=opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-snapshot-freshness --trigger-service-account=opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-heartbeat (entry point heartbeat)
gcloud functions deploy opwatch-heartbeat --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=heartbeat --service-account=opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-topic=opwatch-tick-heartbeat --trigger-service-account=opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_FINDINGS_TOPIC=projects/opwatch-example/topics/opwatch-findings,OPWATCH_MEMORY_STORE=firestore:opwatch-example/opwatch-memory --quiet --project=opwatch-example
# function opwatch-pager (entry point pager)
gcloud functions deploy opwatch-pager --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=pager --service-account=opwatch-pager@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=120s --max-instances=2 --ingress-settings=internal-only --no-allow-unauthenticated --trigger-http '--set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_STATE_STORE=firestore:opwatch-example/(default),OPWATCH_PAGERDUTY_SECRET=projects/opwatch-example/secrets/opwatch-pagerduty-routing-key/versions/latest' --quiet --project=opwatch-example
# function opwatch-remedy-topup (entry point remedy)
gcloud functions deploy opwatch-remedy-topup --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=remedy --service-account=opwatch-remedy-topup@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=480s --max-instances=2 --ingress-settings=all --no-allow-unauthenticated --trigger-http --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_REMEDIES=topup,OPWATCH_REMEDY_STORE=firestore:opwatch-example/opwatch-remedies --quiet --project=opwatch-example
# function opwatch-remedy-snapshot (entry point remedy)
gcloud functions deploy opwatch-remedy-snapshot --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=remedy --service-account=opwatch-remedy-snapshot@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=300s --max-instances=2 --ingress-settings=all --no-allow-unauthenticated --trigger-http --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_REMEDIES=snapshot,OPWATCH_REMEDY_STORE=firestore:opwatch-example/opwatch-remedies --quiet --project=opwatch-example
# function opwatch-remedy-failover (entry point remedy)
gcloud functions deploy opwatch-remedy-failover --gen2 --region=europe-west1 --runtime=python312 --source=build/gcp --entry-point=remedy --service-account=opwatch-remedy-failover@opwatch-example.iam.gserviceaccount.com --memory=256Mi --timeout=330s --max-instances=2 --ingress-settings=all --no-allow-unauthenticated --trigger-http --set-env-vars=OPWATCH_CONFIG_SECRET=projects/opwatch-example/secrets/opwatch-config/versions/latest,OPWATCH_REMEDIES=failover,OPWATCH_REMEDY_STORE=firestore:opwatch-example/opwatch-remedies,OPWATCH_PAGERDUTY_SECRET=projects/opwatch-example/secrets/opwatch-pagerduty-routing-key/versions/latest --quiet --project=opwatch-example
# opwatch-sequencer-liveness: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-sequencer-liveness: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-sequencer-liveness: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-sequencer-liveness: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-sequencer-liveness --region=europe-west1 --member=serviceAccount:opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-sequencer-liveness: roles/storage.objectUser on heartbeat_bucket (overwrite heartbeat/<cloud>/<network>.json)
gcloud storage buckets add-iam-policy-binding gs://opwatch-example-heartbeats --member=serviceAccount:opwatch-sequencer-liveness@opwatch-example.iam.gserviceaccount.com --role=roles/storage.objectUser --project=opwatch-example
# opwatch-batcher-lag: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-batcher-lag: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-batcher-lag: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-batcher-lag: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-batcher-lag --region=europe-west1 --member=serviceAccount:opwatch-batcher-lag@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-batch-submission: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-batch-submission: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-batch-submission: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-batch-submission: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-batch-submission --region=europe-west1 --member=serviceAccount:opwatch-batch-submission@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-finality: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-finality@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-finality: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-finality@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-finality: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-finality@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-finality: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-finality --region=europe-west1 --member=serviceAccount:opwatch-finality@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-wallet-runway: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-wallet-runway: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-wallet-runway: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-wallet-runway: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-wallet-runway --region=europe-west1 --member=serviceAccount:opwatch-wallet-runway@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-tx-health: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-tx-health: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-tx-health: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-tx-health: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-tx-health --region=europe-west1 --member=serviceAccount:opwatch-tx-health@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-proposer-freshness: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-proposer-freshness: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-proposer-freshness: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-proposer-freshness: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-proposer-freshness --region=europe-west1 --member=serviceAccount:opwatch-proposer-freshness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-output-root: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-output-root@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-output-root: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-output-root@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-output-root: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-output-root@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-output-root: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-output-root --region=europe-west1 --member=serviceAccount:opwatch-output-root@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-withdrawals: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-withdrawals: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-withdrawals: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-withdrawals: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-withdrawals --region=europe-west1 --member=serviceAccount:opwatch-withdrawals@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-l1-contracts: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-l1-contracts: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-l1-contracts: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-l1-contracts: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-l1-contracts --region=europe-west1 --member=serviceAccount:opwatch-l1-contracts@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-rpc-sync: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-rpc-sync: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-rpc-sync: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-rpc-sync: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-rpc-sync --region=europe-west1 --member=serviceAccount:opwatch-rpc-sync@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-snapshot-freshness: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-snapshot-freshness: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-snapshot-freshness: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-snapshot-freshness: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-snapshot-freshness --region=europe-west1 --member=serviceAccount:opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-snapshot-freshness: roles/storage.objectViewer on snapshot_bucket (list the archives and their verification markers)
gcloud storage buckets add-iam-policy-binding gs://opwatch-example-snapshots --member=serviceAccount:opwatch-snapshot-freshness@opwatch-example.iam.gserviceaccount.com --role=roles/storage.objectViewer --project=opwatch-example
# opwatch-heartbeat: roles/pubsub.publisher on findings_topic (publish findings (publisher.publish))
gcloud pubsub topics add-iam-policy-binding opwatch-findings --member=serviceAccount:opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# opwatch-heartbeat: roles/datastore.user on memory_firestore (check memory: preconditioned commits of check_memory)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-memory" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-memory/"),title=opwatch-check-memory'
# opwatch-heartbeat: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-heartbeat: roles/run.invoker on self (the Eventarc Pub/Sub trigger invokes the function as this account)
gcloud functions add-invoker-policy-binding opwatch-heartbeat --region=europe-west1 --member=serviceAccount:opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-heartbeat: roles/secretmanager.secretAccessor on beat_key_secret (the key pair that reads the AWS side's beats)
gcloud secrets add-iam-policy-binding projects/opwatch-example/secrets/opwatch-aws-beat-reader --member=serviceAccount:opwatch-heartbeat@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-pager: roles/secretmanager.secretAccessor on config_secret (read the TOML ([alerting]) when it is a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-pager@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-pager: roles/datastore.user on firestore (alert state: preconditioned commits, queries)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-pager@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/(default)" || resource.name.startsWith("projects/opwatch-example/databases/(default)/"),title=opwatch-alert-state'
# opwatch-pager: roles/secretmanager.secretAccessor on pagerduty_secret (the PagerDuty routing key)
gcloud secrets add-iam-policy-binding opwatch-pagerduty-routing-key --member=serviceAccount:opwatch-pager@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-remedy-topup: roles/datastore.user on remedy_firestore (remedy store: conditional commits (claims, caps, leases), audit)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-remedy-topup@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-remedies" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-remedies/"),title=opwatch-remedy-state'
# opwatch-remedy-topup: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-remedy-topup@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-remedy-topup: roles/secretmanager.secretAccessor on funder_secret (the funder key, read at call time)
gcloud secrets add-iam-policy-binding opwatch-funder-key --member=serviceAccount:opwatch-remedy-topup@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-remedy-snapshot: roles/datastore.user on remedy_firestore (remedy store: conditional commits (claims, caps, leases), audit)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-remedy-snapshot@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-remedies" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-remedies/"),title=opwatch-remedy-state'
# opwatch-remedy-snapshot: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-remedy-snapshot@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-remedy-snapshot: roles/storage.objectAdmin on snapshot_bucket (write, verify, list and prune state archives)
gcloud storage buckets add-iam-policy-binding gs://opwatch-example-snapshots --member=serviceAccount:opwatch-remedy-snapshot@opwatch-example.iam.gserviceaccount.com --role=roles/storage.objectAdmin --project=opwatch-example
# opwatch-remedy-failover: roles/datastore.user on remedy_firestore (remedy store: conditional commits (claims, caps, leases), audit)
gcloud projects add-iam-policy-binding opwatch-example --member=serviceAccount:opwatch-remedy-failover@opwatch-example.iam.gserviceaccount.com --role=roles/datastore.user '--condition=expression=resource.name == "projects/opwatch-example/databases/opwatch-remedies" || resource.name.startsWith("projects/opwatch-example/databases/opwatch-remedies/"),title=opwatch-remedy-state'
# opwatch-remedy-failover: roles/secretmanager.secretAccessor on config_secret (read the TOML when it is kept as a secret)
gcloud secrets add-iam-policy-binding opwatch-config --member=serviceAccount:opwatch-remedy-failover@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-remedy-failover: roles/secretmanager.secretAccessor on pagerduty_secret (the PagerDuty routing key, for its own pages)
gcloud secrets add-iam-policy-binding opwatch-pagerduty-routing-key --member=serviceAccount:opwatch-remedy-failover@opwatch-example.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project=opwatch-example
# opwatch-push: roles/run.invoker on pager (push subscription delivers findings to the pager)
gcloud functions add-invoker-policy-binding opwatch-pager --region=europe-west1 --member=serviceAccount:opwatch-push@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-push: roles/run.invoker on self (push subscription delivers firing findings to the remedy)
gcloud functions add-invoker-policy-binding opwatch-remedy-topup --region=europe-west1 --member=serviceAccount:opwatch-push@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-push: roles/run.invoker on self (push subscription delivers firing findings to the remedy)
gcloud functions add-invoker-policy-binding opwatch-remedy-snapshot --region=europe-west1 --member=serviceAccount:opwatch-push@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# opwatch-push: roles/run.invoker on self (push subscription delivers firing findings to the remedy)
gcloud functions add-invoker-policy-binding opwatch-remedy-failover --region=europe-west1 --member=serviceAccount:opwatch-push@opwatch-example.iam.gserviceaccount.com --project=opwatch-example
# Pub/Sub mints OIDC tokens for the push identity
gcloud iam service-accounts add-iam-policy-binding opwatch-push@opwatch-example.iam.gserviceaccount.com --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/iam.serviceAccountTokenCreator --project=opwatch-example
# Pub/Sub forwards undeliverable findings to the dead-letter topic
gcloud pubsub topics add-iam-policy-binding opwatch-findings-dead --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=opwatch-example
# push subscription opwatch-pager: findings → pager (the filter is fixed at creation)
if gcloud pubsub subscriptions describe opwatch-pager --project=opwatch-example >/dev/null 2>&1; then
  gcloud pubsub subscriptions update opwatch-pager --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-pager --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-pager --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=60 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
else
  gcloud pubsub subscriptions create opwatch-pager --topic=opwatch-findings '--message-filter=(attributes.network = "l3" OR attributes.network = "mainnet") AND attributes:check AND attributes:status' --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-pager --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-pager --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=60 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
fi
# Pub/Sub acknowledges from the pager subscription once it dead-letters
gcloud pubsub subscriptions add-iam-policy-binding opwatch-pager --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber --project=opwatch-example
# push subscription opwatch-remedy-topup: firing findings → topup (the filter is fixed at creation)
if gcloud pubsub subscriptions describe opwatch-remedy-topup --project=opwatch-example >/dev/null 2>&1; then
  gcloud pubsub subscriptions update opwatch-remedy-topup --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-topup --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-topup --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
else
  gcloud pubsub subscriptions create opwatch-remedy-topup --topic=opwatch-findings '--message-filter=attributes.check = "wallet_runway" AND attributes.status = "firing" AND attributes.network = "mainnet"' --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-topup --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-topup --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
fi
# Pub/Sub acknowledges from opwatch-remedy-topup once it dead-letters
gcloud pubsub subscriptions add-iam-policy-binding opwatch-remedy-topup --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber --project=opwatch-example
# push subscription opwatch-remedy-snapshot: firing findings → snapshot (the filter is fixed at creation)
if gcloud pubsub subscriptions describe opwatch-remedy-snapshot --project=opwatch-example >/dev/null 2>&1; then
  gcloud pubsub subscriptions update opwatch-remedy-snapshot --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-snapshot --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-snapshot --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
else
  gcloud pubsub subscriptions create opwatch-remedy-snapshot --topic=opwatch-findings '--message-filter=attributes.check = "snapshot_freshness" AND attributes.status = "firing" AND attributes.network = "mainnet"' --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-snapshot --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-snapshot --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
fi
# Pub/Sub acknowledges from opwatch-remedy-snapshot once it dead-letters
gcloud pubsub subscriptions add-iam-policy-binding opwatch-remedy-snapshot --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber --project=opwatch-example
# push subscription opwatch-remedy-failover: firing findings → failover (the filter is fixed at creation)
if gcloud pubsub subscriptions describe opwatch-remedy-failover --project=opwatch-example >/dev/null 2>&1; then
  gcloud pubsub subscriptions update opwatch-remedy-failover --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-failover --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-failover --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
else
  gcloud pubsub subscriptions create opwatch-remedy-failover --topic=opwatch-findings '--message-filter=attributes.check = "sequencer_liveness" AND attributes.status = "firing" AND attributes.network = "mainnet"' --push-endpoint=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-failover --push-auth-service-account=opwatch-push@opwatch-example.iam.gserviceaccount.com --push-auth-token-audience=https://europe-west1-opwatch-example.cloudfunctions.net/opwatch-remedy-failover --dead-letter-topic=opwatch-findings-dead --max-delivery-attempts=10 --ack-deadline=600 --min-retry-delay=10s --max-retry-delay=600s --project=opwatch-example
fi
# Pub/Sub acknowledges from opwatch-remedy-failover once it dead-letters
gcloud pubsub subscriptions add-iam-policy-binding opwatch-remedy-failover --member=serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.subscriber --project=opwatch-example
# pull subscription opwatch-findings-dead: keeps dead letters for inspection (7 days)
gcloud pubsub subscriptions describe opwatch-findings-dead --project=opwatch-example >/dev/null 2>&1 || gcloud pubsub subscriptions create opwatch-findings-dead --topic=opwatch-findings-dead --message-retention-duration=7d --project=opwatch-example
# every 1 min: sequencer_liveness
if gcloud scheduler jobs describe opwatch-sequencer-liveness --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-sequencer-liveness --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-sequencer-liveness '--message-body={"check": "sequencer_liveness"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-sequencer-liveness --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-sequencer-liveness '--message-body={"check": "sequencer_liveness"}' --project=opwatch-example
fi
# every 1 min: batcher_lag
if gcloud scheduler jobs describe opwatch-batcher-lag --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-batcher-lag --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-batcher-lag '--message-body={"check": "batcher_lag"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-batcher-lag --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-batcher-lag '--message-body={"check": "batcher_lag"}' --project=opwatch-example
fi
# every 2 min: batch_submission
if gcloud scheduler jobs describe opwatch-batch-submission --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-batch-submission --location=europe-west1 '--schedule=*/2 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-batch-submission '--message-body={"check": "batch_submission"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-batch-submission --location=europe-west1 '--schedule=*/2 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-batch-submission '--message-body={"check": "batch_submission"}' --project=opwatch-example
fi
# every 1 min: finality
if gcloud scheduler jobs describe opwatch-finality --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-finality --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-finality '--message-body={"check": "finality"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-finality --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-finality '--message-body={"check": "finality"}' --project=opwatch-example
fi
# every 2 min: wallet_runway
if gcloud scheduler jobs describe opwatch-wallet-runway --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-wallet-runway --location=europe-west1 '--schedule=*/2 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-wallet-runway '--message-body={"check": "wallet_runway"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-wallet-runway --location=europe-west1 '--schedule=*/2 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-wallet-runway '--message-body={"check": "wallet_runway"}' --project=opwatch-example
fi
# every 1 min: tx_health
if gcloud scheduler jobs describe opwatch-tx-health --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-tx-health --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-tx-health '--message-body={"check": "tx_health"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-tx-health --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-tx-health '--message-body={"check": "tx_health"}' --project=opwatch-example
fi
# every 5 min: proposer_freshness
if gcloud scheduler jobs describe opwatch-proposer-freshness --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-proposer-freshness --location=europe-west1 '--schedule=*/5 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-proposer-freshness '--message-body={"check": "proposer_freshness"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-proposer-freshness --location=europe-west1 '--schedule=*/5 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-proposer-freshness '--message-body={"check": "proposer_freshness"}' --project=opwatch-example
fi
# every 1 min: output_root
if gcloud scheduler jobs describe opwatch-output-root --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-output-root --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-output-root '--message-body={"check": "output_root"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-output-root --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-output-root '--message-body={"check": "output_root"}' --project=opwatch-example
fi
# every 1 min: withdrawals
if gcloud scheduler jobs describe opwatch-withdrawals --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-withdrawals --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-withdrawals '--message-body={"check": "withdrawals"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-withdrawals --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-withdrawals '--message-body={"check": "withdrawals"}' --project=opwatch-example
fi
# every 1 min: l1_contracts
if gcloud scheduler jobs describe opwatch-l1-contracts --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-l1-contracts --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-l1-contracts '--message-body={"check": "l1_contracts"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-l1-contracts --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-l1-contracts '--message-body={"check": "l1_contracts"}' --project=opwatch-example
fi
# every 1 min: rpc_sync
if gcloud scheduler jobs describe opwatch-rpc-sync --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-rpc-sync --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-rpc-sync '--message-body={"check": "rpc_sync"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-rpc-sync --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-rpc-sync '--message-body={"check": "rpc_sync"}' --project=opwatch-example
fi
# every 15 min: snapshot_freshness
if gcloud scheduler jobs describe opwatch-snapshot-freshness --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-snapshot-freshness --location=europe-west1 '--schedule=*/15 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-snapshot-freshness '--message-body={"check": "snapshot_freshness"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-snapshot-freshness --location=europe-west1 '--schedule=*/15 * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-snapshot-freshness '--message-body={"check": "snapshot_freshness"}' --project=opwatch-example
fi
# every 1 min: heartbeat
if gcloud scheduler jobs describe opwatch-heartbeat --location=europe-west1 --project=opwatch-example >/dev/null 2>&1; then
  gcloud scheduler jobs update pubsub opwatch-heartbeat --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-heartbeat '--message-body={"check": "heartbeat"}' --project=opwatch-example
else
  gcloud scheduler jobs create pubsub opwatch-heartbeat --location=europe-west1 '--schedule=* * * * *' --time-zone=Etc/UTC --topic=opwatch-tick-heartbeat '--message-body={"check": "heartbeat"}' --project=opwatch-example
fi
# self-watch: alert policies on function errors and dead letters, e-mail to [gcp] alarm_emails (looked up by name, then created or updated: deploy/gcp_monitoring.py)
bash -c 'set -euo pipefail; project=$1; emails=$2; shift 2; channels=""; for email in ${emails//,/ }; do name=$(gcloud alpha monitoring channels list --project="$project" --filter="type=\"email\" AND labels.email_address=\"$email\"" --format="value(name)" --limit=1); if [ -z "$name" ]; then name=$(gcloud alpha monitoring channels create --project="$project" --type=email --display-name="opwatch self-watch: $email" --channel-labels="email_address=$email" --format="value(name)"); fi; channels="${channels:+$channels,}$name"; done; while [ $# -gt 0 ]; do title=$1; policy=$2; shift 2; name=$(gcloud alpha monitoring policies list --project="$project" --filter="displayName=\"$title\"" --format="value(name)" --limit=1); if [ -n "$name" ]; then gcloud alpha monitoring policies update "$name" --project="$project" --policy="$policy" ${channels:+--set-notification-channels="$channels"}; else gcloud alpha monitoring policies create --project="$project" --policy="$policy" ${channels:+--notification-channels="$channels"}; fi; done' self-watch opwatch-example oncall@example.com 'opwatch: function errors' '{"displayName":"opwatch: function errors","documentation":{"mimeType":"text/markdown","content":"An opwatch function failed (unhandled error or timeout): its check, pager or remedy did not run to the end. Read the logs of the function (`gcloud functions logs read <name>`); docs/gcp.md."},"combiner":"OR","conditions":[{"displayName":"a function answered 5xx","conditionThreshold":{"filter":"resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = starts_with(\"opwatch-\")","aggregations":[{"alignmentPeriod":"300s","perSeriesAligner":"ALIGN_SUM","crossSeriesReducer":"REDUCE_SUM","groupByFields":["resource.label.service_name"]}],"comparison":"COMPARISON_GT","thresholdValue":0,"duration":"0s","trigger":{"count":1}}}],"alertStrategy":{"autoClose":"1800s"}}' 'opwatch: dead letters' '{"displayName":"opwatch: dead letters","documentation":{"mimeType":"text/markdown","content":"Findings were dropped after every delivery attempt: see the pull subscription `opwatch-findings-dead` (`gcloud pubsub subscriptions pull` it) and the logs of the pager or remedy; docs/gcp.md."},"combiner":"OR","conditions":[{"displayName":"a message on the dead-letter subscription","conditionThreshold":{"filter":"resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = \"opwatch-findings-dead\"","aggregations":[{"alignmentPeriod":"300s","perSeriesAligner":"ALIGN_MAX"}],"comparison":"COMPARISON_GT","thresholdValue":0,"duration":"0s","trigger":{"count":1}}}],"alertStrategy":{"autoClose":"1800s"}}'
