/* log: being written */
