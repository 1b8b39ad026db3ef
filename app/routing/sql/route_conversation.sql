-- Route a conversation in one call: give it to the right operator, or queue it (or, without
-- p_queue_if_nobody, leave it as it is). The routing rule's one home. A conversation with an
-- agent bot (status bot) stays with the bot: its handoff routes it.
-- 1. Candidates: active operators online, not in p_exclude, who are members of the
--    conversation's team (any operator when it has none) and serve its channel (none
--    listed = all); plus the client's owner when online and not excluded, whatever team.
-- 2. Rank by their loads (chatcentre_operator_loads): the owner first when they have room
--    (a returning client goes back to their manager), then, among those with room (and
--    room in their live base for a new lead), by the strategy of the channel
--    (settings.routing_strategy) or team: balanced = fewest open conversations, then
--    longest since the last assignment; round_robin = longest since the last assignment;
--    manual = nobody but the owner (a shared queue).
-- 3. Claim in that order (chatcentre_claim_operator): rows another routing holds are
--    skipped, and waited for only when every operator with room is being claimed (and the
--    transaction holds no stale claim); a claim that finds the operator filled up meanwhile
--    drops them and ranks again. No team-wide turn: a burst of new leads goes to different
--    operators at once.
-- 4. The assignment (chatcentre_assign_conversation; a new lead becomes the operator's
--    client unless their base is full), else the queue (chatcentre_enqueue_conversation).
-- The ingest routes the conversation it opens in its own statement, without waiting for a
-- busy operator (p_may_wait false); what it leaves (o_deferred) is routed after its commit.
-- With p_only_waiting (that routing after the commit) it does nothing unless the
-- conversation still waits for a person: open, unassigned and not with a bot (the queue's
-- drain, or a colleague, may have taken it meanwhile).
-- Returns what the caller raises events for: the assignee and why (o_reason 'owner' or
-- the strategy), or o_queued, with the stored event's payload (o_event: conversation.assigned
-- or conversation.queued, stored by the functions above); the previous assignee; the owner
-- to notify when someone else took their client or it waits (o_notify_owner_id); the
-- contact.
CREATE OR REPLACE FUNCTION chatcentre_route_conversation(
    p_conversation_id bigint, p_exclude bigint[], p_queue_if_nobody boolean, p_now timestamptz,
    p_only_waiting boolean,
    p_actor_kind text,  -- the stored events' actor_kind (app.events.dispatch.actor_kind)
    -- false (the ingest's own routing of the conversation it opened): never wait for an
    -- operator's row; when every operator with room is being claimed, do nothing and say
    -- so (o_deferred), for the routing after the commit to wait instead.
    p_may_wait boolean,
    OUT o_deferred boolean,
    OUT o_assignee_id bigint, OUT o_reason text, OUT o_previous_assignee_id bigint,
    OUT o_notify_owner_id bigint, OUT o_queued boolean, OUT o_contact_id bigint,
    OUT o_event jsonb)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_team_id bigint;
    v_channel_id bigint;
    v_owner_id bigint;
    v_strategy text;
    v_new_lead boolean;
    v_with_bot boolean;
    v_closed boolean;
    v_candidates bigint[];
    v_busy bigint[];
    v_busy_reasons text[];
    v_ranked_any boolean;
    v_rank_again boolean;
    v_claim text;
    v_chosen bigint;
    v_chosen_reason text;
    r record;
BEGIN
    o_queued := false;
    o_deferred := false;
    -- The client's row first, then the conversation's: the order the ingest takes them in
    -- (identity, contact, conversation), so a message of the same client arriving while
    -- this routes waits instead of deadlocking (the assignment may make them the
    -- operator's client).
    PERFORM 1 FROM contacts ct
    WHERE ct.id = (SELECT cv.contact_id FROM conversations cv WHERE cv.id = p_conversation_id)
    FOR UPDATE;
    SELECT cv.team_id, cv.channel_account_id, cv.contact_id, cv.assignee_id, ct.owner_id,
           COALESCE(ch.settings ->> 'routing_strategy', t.strategy, {{DEFAULT_STRATEGY}}),
           cv.status = {{WITH_BOT}}, NOT {{ACTIVE_CV}}
    INTO v_team_id, v_channel_id, o_contact_id, o_previous_assignee_id, v_owner_id, v_strategy,
         v_with_bot, v_closed
    FROM conversations cv
    JOIN contacts ct ON ct.id = cv.contact_id
    LEFT JOIN teams t ON t.id = cv.team_id
    LEFT JOIN channel_accounts ch ON ch.id = cv.channel_account_id
    WHERE cv.id = p_conversation_id
    FOR UPDATE OF cv;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'conversation % not found', p_conversation_id;
    END IF;
    IF v_with_bot THEN
        RETURN;  -- an agent bot answers it; its handoff routes it
    END IF;
    IF p_only_waiting AND (o_previous_assignee_id IS NOT NULL OR v_closed) THEN
        o_previous_assignee_id := NULL;
        RETURN;  -- no longer waiting: nothing to route
    END IF;
    IF p_only_waiting THEN
        -- The ingest has committed the conversation as waiting, so should PostgreSQL crash
        -- and lose this routing, the queue's drain hands it out again: its commit need not
        -- wait for the WAL's flush (one fsync less per new lead, and the operator's row is
        -- held that much shorter). Everything it writes is lost or kept together.
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    v_new_lead := v_owner_id IS NULL;

    SELECT COALESCE(array_agg(o.id ORDER BY o.id), '{}') INTO v_candidates
    FROM operators o
    WHERE o.is_active AND o.presence = {{ONLINE}} AND NOT (o.id = ANY(p_exclude))
      AND (o.id = v_owner_id
           OR ((v_team_id IS NULL
                OR o.id IN (SELECT tm.operator_id FROM team_members tm
                            WHERE tm.team_id = v_team_id))
               AND (NOT EXISTS (SELECT 1 FROM operator_channels oc WHERE oc.operator_id = o.id)
                    OR EXISTS (SELECT 1 FROM operator_channels oc
                               WHERE oc.operator_id = o.id
                                 AND oc.channel_account_id = v_channel_id))));

    <<claiming>>
    LOOP
        EXIT WHEN cardinality(v_candidates) = 0;
        v_busy := '{}';
        v_busy_reasons := '{}';
        v_ranked_any := false;
        v_rank_again := false;
        FOR r IN
            SELECT l.id,
                   CASE WHEN l.id IS NOT DISTINCT FROM v_owner_id THEN 'owner'
                        ELSE v_strategy END AS reason
            FROM chatcentre_operator_loads(v_candidates) l
            WHERE l.has_room
              AND (l.id IS NOT DISTINCT FROM v_owner_id
                   OR (v_strategy <> {{MANUAL}} AND NOT (v_new_lead AND l.base_full)))
            ORDER BY l.id IS NOT DISTINCT FROM v_owner_id DESC,
                     CASE WHEN v_strategy = {{BALANCED}} THEN l.open_count END,
                     l.last_assigned_at NULLS FIRST, l.id
        LOOP
            v_ranked_any := true;
            v_claim := chatcentre_claim_operator(r.id, v_new_lead, false);
            IF v_claim = 'fit' THEN
                v_chosen := r.id;
                v_chosen_reason := r.reason;
                EXIT claiming;
            ELSIF v_claim = 'stale' THEN
                v_candidates := array_remove(v_candidates, r.id);
                v_rank_again := true;
                EXIT;
            END IF;
            v_busy := v_busy || r.id;
            v_busy_reasons := v_busy_reasons || r.reason;
        END LOOP;
        CONTINUE claiming WHEN v_rank_again;
        EXIT claiming WHEN NOT v_ranked_any OR cardinality(v_busy) = 0;
        -- Every operator with room is being claimed: the ingest's routing leaves it to the
        -- one after the commit, which waits for the best of them, unless its transaction
        -- holds an operator it could not use (a stale claim keeps its row locked,
        -- chatcentre_claim_operator): waiting then could close a lock cycle, so the
        -- conversation waits in the queue for the next drain instead.
        IF NOT p_may_wait THEN
            o_deferred := true;
            RETURN;
        END IF;
        EXIT claiming WHEN current_setting('chatcentre.holds_stale_claim', true) = 'on';
        IF chatcentre_claim_operator(v_busy[1], v_new_lead, true) = 'fit' THEN
            v_chosen := v_busy[1];
            v_chosen_reason := v_busy_reasons[1];
            EXIT claiming;
        END IF;
        v_candidates := array_remove(v_candidates, v_busy[1]);
    END LOOP;

    IF v_chosen IS NOT NULL THEN
        SELECT a.o_event INTO o_event FROM chatcentre_assign_conversation(
            p_conversation_id, v_chosen, p_now, true, v_chosen_reason, NULL, NULL,
            p_actor_kind) a;
        o_assignee_id := v_chosen;
        o_reason := v_chosen_reason;
        IF v_chosen_reason <> 'owner' THEN
            o_notify_owner_id := v_owner_id;
        END IF;
        RETURN;
    END IF;
    IF NOT p_queue_if_nobody THEN
        RETURN;
    END IF;
    o_notify_owner_id := v_owner_id;
    SELECT q.o_event INTO o_event
    FROM chatcentre_enqueue_conversation(p_conversation_id, p_now, p_actor_kind) q;
    o_queued := true;
END
$fn$;
