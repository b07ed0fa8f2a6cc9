//! Which kith-nodes a person's node uses: the rules, apart from the agent that applies them.
//!
//! The agent ([`crate::agent`]) stays online through one node, the *primary*, and keeps a
//! second one, the *standby*, connected and with a relay reservation whenever two are known.
//! Both carry the node's circuit addresses, so peers reach it through either. When the primary
//! goes, the standby takes its place at once ([`NodeSet::promote`]) and another node becomes
//! the standby; with no standby up, the next node in turn is tried at once
//! ([`NodeSet::lost`], [`NodeSet::failed`]), and only once every node has failed in a row
//! does the agent back off ([`NodeSet::round_failed`]).
//!
//! Standby candidates are taken in turn after the primary, skipping one that failed, so a
//! node that is down is not asked again and again while others are there.

use libp2p::PeerId;

use crate::NodePlan;

/// The most kith-nodes a person's node keeps plans for.
pub const MAX_NODES: usize = 16;

/// The kith-nodes known, and which are the primary and the standby (see the module docs).
#[derive(Debug, Clone)]
pub struct NodeSet {
    plans: Vec<NodePlan>,
    primary: usize,
    standby: Option<usize>,
    /// The next node to try as standby, counted from the primary.
    standby_turn: usize,
    /// Nodes tried for the primary that failed since the last one that worked.
    failed_in_row: usize,
}

impl NodeSet {
    /// The set with `first` (the node that served the page) as the primary.
    pub fn new(first: NodePlan) -> NodeSet {
        NodeSet {
            plans: vec![first],
            primary: 0,
            standby: None,
            standby_turn: 1,
            failed_in_row: 0,
        }
    }

    /// Adds a node (at most [`MAX_NODES`]; one already known keeps its place).
    pub fn add(&mut self, plan: NodePlan) {
        if self.plans.len() < MAX_NODES && !self.contains(&plan.peer) {
            self.plans.push(plan);
        }
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// Whether no node is known (never: there is always a primary).
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// Whether `peer` is one of the known kith-nodes.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.plans.iter().any(|p| p.peer == *peer)
    }

    /// The node to go online through.
    pub fn primary(&self) -> &NodePlan {
        &self.plans[self.primary]
    }

    /// The primary, to change its addresses.
    pub fn primary_mut(&mut self) -> &mut NodePlan {
        &mut self.plans[self.primary]
    }

    /// The standby, when one is up.
    pub fn standby(&self) -> Option<&NodePlan> {
        self.standby.map(|i| &self.plans[i])
    }

    /// Going online through the primary worked.
    pub fn online(&mut self) {
        self.failed_in_row = 0;
    }

    /// Going online through the primary failed: the next node becomes the primary.
    pub fn failed(&mut self) {
        self.failed_in_row += 1;
        self.rotate();
    }

    /// The primary was lost and no standby is up: the next node becomes the primary, to be
    /// tried at once.
    pub fn lost(&mut self) {
        self.failed_in_row = 1;
        self.rotate();
    }

    /// Whether every node failed since one last worked (time to back off).
    pub fn round_failed(&self) -> bool {
        self.failed_in_row >= self.plans.len()
    }

    fn rotate(&mut self) {
        self.standby = None;
        self.primary = (self.primary + 1) % self.plans.len();
        self.standby_turn = 1;
    }

    /// The primary was lost and the standby is up: the standby becomes the primary. Returns
    /// the new primary.
    pub fn promote(&mut self) -> Option<PeerId> {
        let s = self.standby.take()?;
        self.primary = s;
        self.failed_in_row = 0;
        // The old primary comes last among standby candidates.
        self.standby_turn = 1;
        Some(self.plans[s].peer)
    }

    /// The node to try as standby next, if another node than the primary is known.
    pub fn standby_candidate(&self) -> Option<NodePlan> {
        let n = self.plans.len();
        if n < 2 {
            return None;
        }
        let turn = 1 + (self.standby_turn - 1) % (n - 1);
        Some(self.plans[(self.primary + turn) % n].clone())
    }

    /// `peer` (the last [`NodeSet::standby_candidate`]) is up as the standby.
    pub fn standby_up(&mut self, peer: &PeerId) {
        self.standby = self
            .plans
            .iter()
            .position(|p| p.peer == *peer)
            .filter(|i| *i != self.primary);
    }

    /// The standby went, or the candidate could not be reached: the next one is tried next.
    pub fn standby_failed(&mut self) {
        self.standby = None;
        self.standby_turn += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NodePlan {
        NodePlan {
            peer: PeerId::random(),
            main: vec!["/ip4/127.0.0.1/tcp/1/ws".parse().expect("addr")],
            fallback: Vec::new(),
        }
    }

    #[test]
    fn one_node_is_retried_with_backoff_as_before() {
        let mut set = NodeSet::new(plan());
        let only = set.primary().peer;
        assert_eq!(set.standby_candidate(), None);
        set.lost();
        assert_eq!(set.primary().peer, only);
        assert!(set.round_failed(), "the only node failed: back off");
    }

    #[test]
    fn a_standby_takes_over_and_the_old_primary_is_tried_last() {
        let (a, b, c) = (plan(), plan(), plan());
        let mut set = NodeSet::new(a.clone());
        set.add(b.clone());
        set.add(c.clone());
        set.add(b.clone());
        assert_eq!(set.len(), 3, "a node known already is not added again");
        assert_eq!(set.standby_candidate(), Some(b.clone()));
        set.standby_up(&b.peer);
        assert_eq!(set.standby().map(|p| p.peer), Some(b.peer));

        assert_eq!(set.promote(), Some(b.peer));
        assert_eq!(set.primary().peer, b.peer);
        assert_eq!(set.standby(), None);
        assert_eq!(
            set.standby_candidate(),
            Some(c.clone()),
            "the next after the new primary"
        );
        set.standby_failed();
        assert_eq!(set.standby_candidate(), Some(a.clone()));
        set.standby_failed();
        assert_eq!(set.standby_candidate(), Some(c), "round and round");
        assert_eq!(set.promote(), None, "no standby up");
    }

    #[test]
    fn without_a_standby_every_node_is_tried_once_before_backing_off() {
        let (a, b, c) = (plan(), plan(), plan());
        let mut set = NodeSet::new(a.clone());
        set.add(b.clone());
        set.add(c.clone());
        set.lost();
        assert_eq!(set.primary().peer, b.peer, "the next node, at once");
        assert!(!set.round_failed());
        set.failed();
        assert_eq!(set.primary().peer, c.peer);
        assert!(!set.round_failed());
        set.failed();
        assert_eq!(set.primary().peer, a.peer);
        assert!(set.round_failed(), "all three failed in a row");
        set.online();
        assert!(!set.round_failed());
    }

    #[test]
    fn the_set_is_bounded() {
        let mut set = NodeSet::new(plan());
        for _ in 0..40 {
            set.add(plan());
        }
        assert_eq!(set.len(), MAX_NODES);
    }
}
