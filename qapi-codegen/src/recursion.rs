//! Which types contain themselves: the strongly connected components of the "holds without
//! indirection" graph (Tarjan's algorithm, iterative so deep schemas cannot overflow the
//! stack). A type holding another on its own cycle must box it.

/// The cycles of a directed graph whose nodes are numbered `0..n`.
#[derive(Debug)]
pub struct Cycles {
    /// Component of each node.
    component: Vec<usize>,
    /// Whether each component is a cycle (several nodes, or one holding itself).
    cyclic: Vec<bool>,
}

impl Cycles {
    /// Finds the cycles; `edges[n]` lists the nodes node `n` points to.
    pub fn new(edges: &[Vec<usize>]) -> Cycles {
        let mut t = Tarjan {
            edges,
            index: vec![None; edges.len()],
            low: vec![0; edges.len()],
            on_stack: vec![false; edges.len()],
            stack: Vec::new(),
            counter: 0,
            out: Cycles {
                component: vec![0; edges.len()],
                cyclic: Vec::new(),
            },
        };
        for root in 0..edges.len() {
            if t.index[root].is_none() {
                t.visit_from(root);
            }
        }
        t.out
    }

    /// Whether `a` and `b` lie on one cycle (`a == b`: whether `a` is on a cycle).
    pub fn same_cycle(&self, a: usize, b: usize) -> bool {
        let c = self.component[a];
        c == self.component[b] && self.cyclic[c]
    }
}

struct Tarjan<'e> {
    edges: &'e [Vec<usize>],
    /// Visit order of each node, `None` until visited.
    index: Vec<Option<usize>>,
    /// The lowest visit order reachable from the node through its subtree.
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    counter: usize,
    out: Cycles,
}

impl Tarjan<'_> {
    fn enter(&mut self, node: usize) {
        self.index[node] = Some(self.counter);
        self.low[node] = self.counter;
        self.counter += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
    }

    /// Depth-first search from `root`, with an explicit stack of (node, next edge).
    fn visit_from(&mut self, root: usize) {
        self.enter(root);
        let mut work = vec![(root, 0)];
        while let Some(&mut (node, ref mut next)) = work.last_mut() {
            let target = self.edges[node].get(*next).copied();
            *next += 1;
            match target.map(|t| (t, self.index[t])) {
                Some((target, None)) => {
                    self.enter(target);
                    work.push((target, 0));
                }
                Some((target, Some(index))) => {
                    if self.on_stack[target] {
                        self.low[node] = self.low[node].min(index);
                    }
                }
                None => {
                    work.pop();
                    if let Some(&(parent, _)) = work.last() {
                        self.low[parent] = self.low[parent].min(self.low[node]);
                    }
                    if Some(self.low[node]) == self.index[node] {
                        self.close_component(node);
                    }
                }
            }
        }
    }

    /// Pops the component whose first visited node is `root`.
    fn close_component(&mut self, root: usize) {
        let id = self.out.cyclic.len();
        let mut size = 0;
        while let Some(top) = self.stack.pop() {
            self.on_stack[top] = false;
            self.out.component[top] = id;
            size += 1;
            if top == root {
                break;
            }
        }
        self.out
            .cyclic
            .push(size > 1 || self.edges[root].contains(&root));
    }
}

#[cfg(test)]
mod tests {
    use super::Cycles;

    #[test]
    fn a_chain_has_no_cycle() {
        let c = Cycles::new(&[vec![1], vec![2], vec![]]);
        assert!(!c.same_cycle(0, 1));
        assert!(!c.same_cycle(1, 2));
        assert!((0..3).all(|n| !c.same_cycle(n, n)));
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        let c = Cycles::new(&[vec![0, 1], vec![]]);
        assert!(c.same_cycle(0, 0));
        assert!(!c.same_cycle(1, 1));
        assert!(!c.same_cycle(0, 1));
    }

    #[test]
    fn nodes_on_one_cycle_share_it_and_others_do_not() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 hangs off it; 4 <-> 5 is another cycle.
        let c = Cycles::new(&[vec![1], vec![2, 3], vec![0], vec![4], vec![5], vec![4]]);
        assert!(c.same_cycle(0, 2) && c.same_cycle(2, 1) && c.same_cycle(1, 1));
        assert!(!c.same_cycle(1, 3) && !c.same_cycle(3, 3));
        assert!(c.same_cycle(4, 5));
        assert!(!c.same_cycle(0, 4));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let mut edges: Vec<Vec<usize>> = (1..=n).map(|i| vec![i]).collect();
        edges.push(vec![0]);
        let c = Cycles::new(&edges);
        assert!(c.same_cycle(0, n));
        edges[n].clear();
        assert!(!Cycles::new(&edges).same_cycle(0, n));
    }
}
