/* This file is part of the community OS project. The COPYRIGHT file at the
top level of this repository contains the full copyright notices and license
terms.

sao's place for a deployment's own code (index.html loads custom.js after
the client), installed by scripts/sao_locale.py (make sao).

A selection keeps showing its record's value while its options are
refilled. sao 8.0 redisplays a form after each change: the selection
widget empties and refills its <select>, which then shows its first option
(in zh_CN order 家庭成员 of 业主/家庭成员/租户), and puts the record's value
back only in a later task. A form's button pressed in between (Enter in a
text field of a wizard runs its default button, which reads every widget
first) took that first option as the user's choice: a tenant registered
from the unit was saved as a household member. */
(function() {
    'use strict';
    var Selection = Sao.View.Form.Selection;
    var set_selection = Selection.prototype.set_selection;
    Selection.prototype.set_selection = function(selection, help) {
        set_selection.call(this, selection, help);
        var record = this.record, field = this.field;
        if (!record || !field || this.select.prop('multiple')) {
            return;
        }
        var value = JSON.stringify(field.get(record));
        var known = this.select.children('option').filter(function() {
            return this.value === value;
        });
        if (known.length) {
            this.select.val(value);
        }
    };
}());
